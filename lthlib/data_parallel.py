"""Several processes for one ticket: data parallelism with torch.distributed (NCCL on GPUs, gloo on CPUs).

The ticket's own process is rank 0. `ranks(...)` starts ranks 1..N-1 beside it, each on its own
device (cuda:i), and joins them when the ticket is trained. Every rank draws the same batches and
trains on its share of each update's sub-batches; DDP (torch's DistributedDataParallel) sums their
gradients, so an update is the one a single process makes from all of them. Rank 0's weights are
broadcast when DDP wraps the model and every rank holds the same mask, so masks and weights stay in
sync; only rank 0 writes (records, weights, the rewind point, checkpoints).
"""

from __future__ import annotations

import contextlib
import os
import socket
from typing import Any, Callable

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def device_of_rank(device: str, rank_index: int) -> str:
    """cuda -> cuda:<rank>; a CPU stays a CPU."""
    return f"cuda:{rank_index}" if str(device).startswith("cuda") else str(device)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _join(rank_index: int, world: int, port: int, device: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    backend = "nccl" if str(device).startswith("cuda") else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(rank_index)
    dist.init_process_group(backend, rank=rank_index, world_size=world)


def _rank_main(rank_index: int, world: int, port: int, device: str, target: Callable, payload: Any) -> None:
    _join(rank_index, world, port, device)
    try:
        target(*payload)
    finally:
        dist.destroy_process_group()


@contextlib.contextmanager
def ranks(world: int, device: str, target: Callable, payload: tuple):
    """Within it, this process is rank 0 of `world`; ranks 1.. run `target(*payload)` (a module-level
    function: they are spawned) and are joined at exit. An error in any rank is raised here."""
    if world > 1 and str(device).startswith("cuda") and torch.cuda.device_count() < world:
        raise ValueError(f"ranks {world} asks for {world} GPUs; this machine has {torch.cuda.device_count()}")
    port = _free_port()
    context = mp.get_context("spawn")
    helpers = [context.Process(target=_rank_main, args=(i, world, port, device, target, payload), daemon=True)
               for i in range(1, world)]
    for helper in helpers:
        helper.start()
    _join(0, world, port, device)
    try:
        yield
    finally:
        dist.destroy_process_group()
        for helper in helpers:
            helper.join()
    failed = [i + 1 for i, helper in enumerate(helpers) if helper.exitcode != 0]
    if failed:
        raise RuntimeError(f"data-parallel ranks {failed} failed (see their output above)")


def wrap(model: torch.nn.Module, device: str) -> torch.nn.Module:
    """The model under DDP where several ranks train it, else itself."""
    if world_size() == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [torch.device(device).index] if str(device).startswith("cuda") else None
    return DistributedDataParallel(model, device_ids=ids)


def no_sync(model: torch.nn.Module, last: bool):
    """Skip the gradient all-reduce on every sub-batch of an update but its last."""
    return model.no_sync() if hasattr(model, "no_sync") and not last else contextlib.nullcontext()


def sum_over_ranks(value: float) -> float:
    if world_size() == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device="cuda" if dist.get_backend() == "nccl" else "cpu")
    dist.all_reduce(tensor)
    return float(tensor.item())
