# Installed by scripts/setup.sh as .venv/etc/ipython/ipython_kernel_config.py: every kernel of this .venv loads it
# (papermill, the book's build, nbval, JupyterLab). ipykernel >= 7.3 warns at every start that its ZMQ sockets
# use TCP without CurveZMQ encryption. For a kernel listening on the loopback interface only (a client on the
# same machine, as all of these start it) that is harmless, so that one message is dropped there; a kernel
# listening on any other address still warns, and every other message is kept.
import logging

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class _DropLoopbackTcpNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if "Kernel is running over TCP without encryption" not in record.getMessage():
            return True
        from ipykernel.kernelapp import IPKernelApp

        return not (IPKernelApp.initialized() and IPKernelApp.instance().ip in LOOPBACK)


logging.getLogger("IPKernelApp").addFilter(_DropLoopbackTcpNotice())
