"""Jupyter Book 1 passes its `comments_config` to Sphinx whether or not sphinx_comments is loaded; the book
leaves that extension out (comments need the internet), so the value is declared here, unused, and Sphinx no
longer warns that it is unknown."""


def setup(app):
    app.add_config_value("comments_config", {}, "html")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
