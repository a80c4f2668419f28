"""Checking a long roster on every core while one writer writes (issue 15).

The import's process reads the file and writes the database; checking a row
(names, dates, phone, e-mail) costs several times more than writing it, so
chunks of rows go to worker processes, at most a few chunks ahead of the
writer (memory stays flat), and their answers come back in file order, so the
first of two rows with one policy number still wins. A short file, or a
machine with one core, is checked in the importing process alone.
"""

from __future__ import annotations

import collections
import multiprocessing
import multiprocessing.connection
import os
import threading
from concurrent.futures import ProcessPoolExecutor

from regapp.normalize import Invalid
from regapp.priority import yield_cores
from regapp.roster_rows import RowChecker

CHUNK = 5_000
#: chunks handed out beyond the one being written, per worker
AHEAD = 2

#: the worker process's checker, made once by :func:`_start_worker` (one per process, so
#: its memory of repeated cells serves every chunk it checks), and the writer's packing
_checker = _pack = None


def checked_chunks(rows, mapping, workers=None, pack=list):
    """For each chunk of ``(line, raw)`` rows, in order: ``(rows, good, said)``, where
    ``good`` is ``pack([(line, fields), …])`` of the rows that passed and ``said`` lists
    ``(line, reason or None, warnings)`` for each row refused or warned about."""
    checker = RowChecker(mapping)
    chunks = _chunks(rows, checker)
    first = next(chunks, None)
    if first is None:
        return
    yield _check_chunk(first, checker, pack)
    workers = workers or len(os.sched_getaffinity(0))
    second = next(chunks, None)
    if second is None:
        return
    if workers < 2:
        yield _check_chunk(second, checker, pack)
        for chunk in chunks:
            yield _check_chunk(chunk, checker, pack)
        return
    yield from _in_workers([second], chunks, checker, workers, pack)


def _in_workers(started, chunks, checker, workers, pack):
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                             initargs=(dict(checker.mapping), checker.today, pack)) as pool:
        pending = collections.deque(pool.submit(_worker_check, chunk) for chunk in started)
        for chunk in chunks:
            pending.append(pool.submit(_worker_check, chunk))
            if len(pending) > workers * AHEAD:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _chunks(rows, checker):
    chunk = []
    for line, raw in rows:
        chunk.append((line, *checker.cells_of(raw)))
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _check_chunk(chunk, checker, pack):
    good, said = [], []
    for line, values, overflow in chunk:
        warnings = []
        try:
            fields = checker.check_cells(values, overflow, warnings.append)
        except Invalid as exc:
            said.append((line, str(exc), warnings))
            continue
        good.append((line, fields))
        if warnings:
            said.append((line, None, warnings))
    return len(chunk), pack(good), said


def _start_worker(mapping, today, pack):
    global _checker, _pack
    yield_cores()  # an import's checkers on every core must not stall a registration's hash
    _checker, _pack = RowChecker(mapping, today), pack
    threading.Thread(target=_end_with_the_importer, daemon=True).start()


def _end_with_the_importer():
    """A killed import (SIGKILL, OOM) cannot shut its pool down: without this, its workers
    would wait for chunks for ever."""
    multiprocessing.connection.wait([multiprocessing.parent_process().sentinel])
    os._exit(1)


def _worker_check(chunk):
    return _check_chunk(chunk, _checker, _pack)
