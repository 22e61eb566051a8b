"""An asyncio service near saturation as it really runs: event-loop rounds, not shared CPU time.

Processor sharing (`knee.ps_sojourn`) shares the core's *time* between requests, so a request's
wait grows with its CPU demand. Timings taken inside the workers of the knee deployment show
that this is not where the tail comes from (bench/knee_tail.py, results in
bench/results/simulator-knee-tail.md): the slowest 1 % are almost all database-path requests,
whose CPU is 1.5x an L1 hit's but whose P99 is several times larger, and a pooled PostgreSQL
connection that the database answers in 0.2 ms is held tens of ms. An ``await`` on I/O hands the
core back, and the request gets it again only when its loop comes round to it: the reply is read
by one callback, the request's task resumed by the next, each behind every callback queued
before it. A request's latency is a number of loop *rounds* times the length of a round, and a
round lasts as long as the loop takes to run one step of every ready request. This module
replays exactly that:

* **One event loop per worker process**, run as asyncio runs it: poll (arrivals and finished I/O
  become callbacks at the back of the ready queue), then run every callback that was ready at the
  poll, in FIFO order; what they schedule waits for the next round.
* **A request is a program of steps.** The uvicorn callback that parses it; ``steps`` task steps
  of application work (the awaits between them cost a round each); then by path: an L1 hit
  answers; an L2 read queues a Redis command, which a flush callback sends in the next round, and
  resumes after the reader callback; a database read misses Redis, takes a pooled connection,
  waits for PostgreSQL, releases the connection, stores the row in Redis (another round trip) and
  answers; a write holds one connection for all of its statements. The path's CPU (calibrated) is
  spread evenly over its steps; flush and reader callbacks cost ``callback``.
* **The pool is a queue**: ``pool`` connections per loop, waiters FIFO, and a connection is held
  for the rounds its holder waits, not only for the query.
* **Loops sharing cores.** Loop ``k`` runs on core ``k mod cores``; a core runs one callback at a
  time, switching between its runnable loops as the kernel's fair scheduler does: the loop with
  the least CPU received runs next, for at least ``slice_s`` unless it runs out of work, and a loop
  that wakes takes the core at the next callback boundary (wake-up preemption). A loop
  with nothing ready blocks in epoll (a voluntary context switch), and whatever wakes it (an
  arrival, a Redis or PostgreSQL reply) pays ``wake`` on the callback it runs first: the return
  from epoll and the switch back, calibrated against the workers' own voluntary context switches
  (bench/validate_knee.py: at light load 2.1-2.2 per request, i.e. the arrival and the awaits that
  find the loop idle; ~0 in overload). A loop switched out while it still has work ready (its slice
  used up: an involuntary context switch) costs ``switch`` on the next callback the core runs: the
  other loop starts with cold caches. Two loops sharing a core in overload switch about once per
  1.5 ms slice, 1.2-1.4 times per request on the knee bench, which is why CPU per request stops
  falling well before overload. What a switch costs against a wake-up depends on the host (the
  same on one, a quarter on another: bench/knee_cpu.py), so the two are priced apart.
  A loop that wakes is placed no further back than the least-served runnable loop (no credit for
  its sleep).
* I/O latencies (Redis round trip, PostgreSQL query) are fixed, calibrated at light load: the
  database server's own queue is not modelled (its cores are not the bottleneck in the
  deployments this models; ``discipline="ps"`` in `knee` keeps the FCFS queue on database cores).
* The client's connection bound (`knee.KneeParams.max_in_service`) is not applied here: the
  knee bench opens connections on demand up to 1,024, which only overload reaches.
"""

from __future__ import annotations

import numba
import numpy as np

from ._heap import heap_pop, heap_push

__all__ = ["DB", "HIT", "L2", "WRITE", "programs", "replay"]

HIT, L2, DB, WRITE = 0, 1, 2, 3
"""Request paths, indexes into `programs`."""
_YIELD, _OP_L2, _OP_DB, _END = 0, 1, 2, 3
_PARSE, _STEP, _FLUSH, _READER, _GRANT = 0, 1, 2, 3, 4


def programs(steps: int, statements_per_write: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per path: what follows each task step (yield, Redis round trip, database query, answer),
    the number of task steps, and the number of small callbacks (flush, reader, pool grant).

    ``steps`` >= 1 task steps of application work precede the cache lookup; the last of them does
    the lookup. Returned as ``(ops[path, step], n_steps[path], n_callbacks[path])``.
    """
    steps = max(1, int(steps))
    stmts = max(1, int(statements_per_write))
    work = [_YIELD] * (steps - 1)
    table = {HIT: [*work, _END],
             L2: [*work, _OP_L2, _END],
             DB: [*work, _OP_L2, _OP_DB, _OP_L2, _END],
             WRITE: work + [_OP_DB] * stmts + [_OP_L2, _END]}
    width = max(len(v) for v in table.values())
    ops = np.full((4, width), _END, np.int64)
    n_steps = np.zeros(4, np.int64)
    n_callbacks = np.zeros(4, np.int64)
    for path, seq in table.items():
        ops[path, :len(seq)] = seq
        n_steps[path] = len(seq)
        n_callbacks[path] = 2 * seq.count(_OP_L2) + seq.count(_OP_DB)  # flush + reader; reader
    return ops, n_steps, n_callbacks


@numba.njit(cache=True)
def _replay(arrival: np.ndarray, loop: np.ndarray, path: np.ndarray, step_cpu: np.ndarray, io_l2: float,
             io_db: np.ndarray, ops: np.ndarray, loops: int, cores: int, speed: float,
            pool: int, callback: float, wake: float, switch: float,
            slice_s: float) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """Finish time of every job (arrival-sorted) and the loop wake-ups and preemptions charged to it
    (columns 0 and 1); see the module docstring for the rules. The parse callback and each task step of
    job j cost ``step_cpu[j]``; flush, reader and grant ``callback``."""
    n = arrival.size
    finish = np.full(n, np.nan)
    counts = np.zeros((n, 2), np.int64)
    # per-loop segments of flat arrays: arrivals in order, ready ring, I/O heap, pool waiters
    count = np.zeros(loops, np.int64)
    for j in range(n):
        count[loop[j]] += 1
    off = np.zeros(loops + 1, np.int64)
    for k in range(loops):
        off[k + 1] = off[k] + count[k] + 1
    arr_list = np.empty(off[loops], np.int64)
    fill = np.zeros(loops, np.int64)
    for j in range(n):
        k = loop[j]
        arr_list[off[k] + fill[k]] = j
        fill[k] += 1
    next_arr = np.zeros(loops, np.int64)
    rq_job = np.empty(off[loops], np.int64)
    rq_kind = np.empty(off[loops], np.int64)
    rq_head = np.zeros(loops, np.int64)
    rq_len = np.zeros(loops, np.int64)
    h_tag = np.empty(off[loops])
    h_who = np.empty(off[loops], np.int64)
    h_len = np.zeros(loops, np.int64)
    w_job = np.empty(off[loops], np.int64)
    w_head = np.zeros(loops, np.int64)
    w_len = np.zeros(loops, np.int64)
    free = np.full(loops, pool, np.int64)
    todo = np.zeros(loops, np.int64)
    idle = np.ones(loops, np.bool_)
    vrun = np.zeros(loops)
    step_of = np.zeros(n, np.int64)
    holds = np.zeros(n, np.bool_)

    for core in range(cores):
        now = 0.0
        cur = -1
        slice_left = 0.0
        preempted = False
        remaining = 0
        for k in range(core, loops, cores):
            remaining += count[k]
        while remaining > 0:
            # which of this core's loops can run now
            best = -1
            woken = -1
            soonest = np.inf
            min_v = np.inf
            for k in range(core, loops, cores):
                a_next = arrival[arr_list[off[k] + next_arr[k]]] if next_arr[k] < count[k] else np.inf
                e_next = h_tag[off[k]] if h_len[k] > 0 else np.inf
                ev = min(a_next, e_next)
                if todo[k] > 0 or rq_len[k] > 0 or ev <= now:
                    if vrun[k] < min_v:
                        min_v = vrun[k]
                        best = k
                    if idle[k] and k != cur and woken < 0:
                        woken = k
                else:
                    idle[k] = True  # blocked in epoll: the next arrival wakes it
                    soonest = min(soonest, ev)
            if best < 0:
                now = soonest
                cur = -1
                continue
            cur_has_work = cur >= 0 and (todo[cur] > 0 or rq_len[cur] > 0)
            if woken >= 0 and cur_has_work:
                best = woken  # a loop that wakes takes the core at once (wake-up preemption)
                slice_left = 0.0
            if not (cur_has_work and slice_left > 0):
                if cur != best or slice_left <= 0:
                    slice_left = slice_s
                if cur_has_work and cur != best:
                    preempted = True  # switched out with work ready: an involuntary context switch
                cur = best
            k = cur
            o = off[k]
            cap = off[k + 1] - off[k]
            if todo[k] == 0:  # a new round: poll, then run what is ready
                while next_arr[k] < count[k] and arrival[arr_list[o + next_arr[k]]] <= now:
                    j = arr_list[o + next_arr[k]]
                    next_arr[k] += 1
                    pos = o + (rq_head[k] + rq_len[k]) % cap
                    rq_job[pos], rq_kind[pos] = j, _PARSE
                    rq_len[k] += 1
                while h_len[k] > 0 and h_tag[o] <= now:
                    j = h_who[o]
                    heap_pop(h_tag[o:o + cap], h_who[o:o + cap], h_len[k])
                    h_len[k] -= 1
                    pos = o + (rq_head[k] + rq_len[k]) % cap
                    rq_job[pos], rq_kind[pos] = j, _READER
                    rq_len[k] += 1
                todo[k] = rq_len[k]
                if todo[k] == 0:
                    idle[k] = True
                    slice_left = 0.0
                    continue
            if idle[k]:  # woke up: no credit for the time asleep
                lo = np.inf
                for q in range(core, loops, cores):
                    if q != k and (todo[q] > 0 or rq_len[q] > 0) and vrun[q] < lo:
                        lo = vrun[q]
                if lo < np.inf and vrun[k] < lo:
                    vrun[k] = lo
            pos = o + rq_head[k]
            j, kind = rq_job[pos], rq_kind[pos]
            rq_head[k] = (rq_head[k] + 1) % cap
            rq_len[k] -= 1
            todo[k] -= 1
            cost = step_cpu[j] if kind in (_PARSE, _STEP) else callback
            if idle[k]:  # the first callback after the loop slept in epoll pays its wake-up
                cost += wake
                counts[j, 0] += 1
            if preempted:  # and the first after the core was taken from a loop with work, the switch
                cost += switch
                counts[j, 1] += 1
                preempted = False
            idle[k] = False
            now += cost / speed
            vrun[k] += cost
            slice_left -= cost
            nxt = -1  # what to queue for j next (-1: nothing)
            if kind in (_PARSE, _READER):
                nxt = _STEP
            elif kind == _FLUSH:
                heap_push(h_tag[o:o + cap], h_who[o:o + cap], h_len[k], now + io_l2, j)
                h_len[k] += 1
            elif kind == _GRANT:
                heap_push(h_tag[o:o + cap], h_who[o:o + cap], h_len[k], now + io_db[j], j)
                h_len[k] += 1
            else:
                op = ops[path[j], step_of[j]]
                step_of[j] += 1
                if holds[j] and op != _OP_DB:  # the connection goes back; the oldest waiter gets it
                    holds[j] = False
                    if w_len[k] > 0:
                        w = w_job[o + w_head[k]]
                        w_head[k] = (w_head[k] + 1) % cap
                        w_len[k] -= 1
                        holds[w] = True
                        p2 = o + (rq_head[k] + rq_len[k]) % cap
                        rq_job[p2], rq_kind[p2] = w, _GRANT
                        rq_len[k] += 1
                    else:
                        free[k] += 1
                if op == _YIELD:
                    nxt = _STEP
                elif op == _OP_L2:
                    nxt = _FLUSH
                elif op == _OP_DB:
                    if holds[j]:
                        heap_push(h_tag[o:o + cap], h_who[o:o + cap], h_len[k], now + io_db[j], j)
                        h_len[k] += 1
                    elif free[k] > 0:
                        free[k] -= 1
                        holds[j] = True
                        heap_push(h_tag[o:o + cap], h_who[o:o + cap], h_len[k], now + io_db[j], j)
                        h_len[k] += 1
                    else:
                        w_job[o + (w_head[k] + w_len[k]) % cap] = j
                        w_len[k] += 1
                else:
                    finish[j] = now
                    remaining -= 1
            if nxt >= 0:
                p2 = o + (rq_head[k] + rq_len[k]) % cap
                rq_job[p2], rq_kind[p2] = j, nxt
                rq_len[k] += 1
    return finish, counts


def replay(arrival: np.ndarray, loop: np.ndarray, path: np.ndarray, cpu: np.ndarray, *, cores: int,
           speed: float = 1.0, steps: int, statements_per_write: int, io_l2: float, io_db: float,
           io_db_write: float, pool: int, callback: float, wake: float, slice_s: float,
           switch: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Latency (s) of every job and, per job, what it paid for beyond its own CPU. ``cpu`` is each
    request's whole CPU demand (s), ``path`` one of HIT/L2/DB/WRITE, ``loop`` the event loop serving it
    (loop ``k`` runs on core ``k mod cores``, at ``speed`` x the calibrated host's speed); ``pool``
    connections per loop; ``io_db_write`` is per statement; times in seconds.

    The second array has a row per job: column 0 the loop wake-ups (its loop had slept in epoll when
    one of its callbacks became ready: the model's voluntary context switches), column 1 the
    preemptions (its callback was the first after the core was taken from another loop that still
    had work: involuntary switches, ``switch`` each). Counted to set against the workers' own counts
    and to price that CPU at every load."""
    if arrival.size == 0:
        return np.empty(0), np.zeros((0, 2), np.int64)
    ops, n_steps, n_callbacks = programs(steps, statements_per_write)
    order = np.argsort(arrival, kind="stable")
    a = np.ascontiguousarray(arrival[order], np.float64)
    p = np.ascontiguousarray(path[order], np.int64)
    c = np.ascontiguousarray(cpu[order], np.float64)
    own = np.maximum(c - n_callbacks[p] * callback, 0.05 * c)  # what the parse and task steps share
    per = own / (n_steps[p] + 1)
    io = np.where(p == WRITE, io_db_write, io_db).astype(np.float64)
    loops = int(loop.max()) + 1
    finish, counts = _replay(a, np.ascontiguousarray(loop[order], np.int64), p, per, float(io_l2), io, ops, loops,
                             max(1, min(int(cores), loops)), float(speed), max(1, int(pool)), float(callback),
                             float(wake), float(switch), float(slice_s))
    out = np.empty(arrival.size)
    out[order] = finish - a
    paid = np.empty((arrival.size, 2), np.int64)
    paid[order] = counts
    return out, paid
