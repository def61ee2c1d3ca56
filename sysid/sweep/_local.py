"""Backend "local": this process (one worker) or spawned worker processes."""

from __future__ import annotations

import pickle

from ._trial import _failed, _init_worker, _run_trial


def _run_local(pending, template, data, val, score_kwargs, threads, workers, sink) -> None:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    if workers == 1:  # one after another in this process: no start-up cost, same rows
        for spec in pending:
            sink.add(*_run_trial(spec, template, data, val, score_kwargs, threads))
        return
    queue = list(pending)
    attempts = {s["trial"]: 0 for s in pending}
    ctx = multiprocessing.get_context("spawn")  # no fork of a process that holds torch threads
    while queue:
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=(threads,)) as pool:
            futures = {pool.submit(_worker_trial, s, template, data, val, score_kwargs, threads): s for s in queue}
            queue = []
            try:
                remaining = set(futures)
                while remaining:
                    finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        spec = futures[fut]
                        try:
                            rec, est = fut.result()
                        except BrokenProcessPool as err:
                            # a worker died (killed, out of memory): every trial in flight fails with it;
                            # each is retried in a fresh pool and recorded as failed after three deaths
                            attempts[spec["trial"]] += 1
                            if attempts[spec["trial"]] < 3:
                                queue.append(spec)
                                continue
                            rec, est = _failed(spec, f"the worker process died three times ({err})"), None
                        except Exception as err:  # noqa: BLE001 - e.g. an estimator that cannot be pickled
                            rec, est = _failed(spec, f"{type(err).__name__}: {err}"), None
                        sink.add(rec, est)
            except KeyboardInterrupt:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
        queue.sort(key=lambda s: s["trial"])



def _worker_trial(*args):
    """``_run_trial`` in a worker process: a fitted estimator that cannot be pickled (e.g. it holds a
    lambda) stays behind; its record comes back, and the best trial is refitted by the caller."""
    record, est = _run_trial(*args)
    if est is not None:
        try:
            pickle.dumps(est)
        except Exception:  # noqa: BLE001 - any pickling failure
            est = None
    return record, est
