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
* **Keyed reads find their path as they run** (``key`` given): the lookup step reads the worker's
  L1; a miss sends the Redis GET, and the step after its reply either takes Redis's copy (and fills
  L1), or, if the worker is already filling that key, waits for that fill (path WAIT: asyncio's
  single flight in refservice/cache.py), or fills it: pooled query, Redis SET, and only at the last
  step L1 and Redis hold the key and the waiters resume. Writes delete the key from Redis and their
  worker's L1. Redis is shared by every loop, so the cores advance together (the one whose clock is
  furthest behind runs next) and each sees the others' fills in time order.
* **Full garbage collections stop a loop** (path STALL): not a request but one callback of the
  collection's CPU, queued on its loop like any other, so everything behind it waits. The knee
  bench's workers stopped ~0.1 s every few thousand requests; at 85 % load the backlog one stop
  leaves takes most of a second to drain, which puts it in P99, while at light load it barely shows.
* I/O latencies (Redis round trip, PostgreSQL query) are fixed, calibrated at light load: the
  database server's own queue is not modelled (its cores are not the bottleneck in the
  deployments this models; ``discipline="ps"`` in `knee` keeps the FCFS queue on database cores).
* The client's connection bound (`knee.KneeParams.max_in_service`) is not applied here: the
  knee bench opens connections on demand up to 1,024, which only overload reaches.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import numba
import numpy as np

from ._heap import heap_pop, heap_push

__all__ = ["DB", "HIT", "L2", "STALL", "WAIT", "WRITE", "CacheState", "Replayed", "programs", "replay"]

HIT, L2, DB, WRITE, WAIT, STALL = 0, 1, 2, 3, 4, 5
"""Request paths: indexes into `programs`; WAIT, a keyed read that waited for another's fill; STALL, not a
request but a stop of the loop for its whole CPU (a full garbage collection) in one callback."""
_YIELD, _OP_L2, _OP_DB, _END, _PARK = 0, 1, 2, 3, 4
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


def _misses(n_steps: np.ndarray, n_callbacks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per path a keyed read can end on (indexed by path, HIT to WAIT): the callbacks it runs and the task
    steps it takes after its L1 lookup, from `programs`. A read that waits on another's fill runs the
    GET's callbacks, a step that finds the fill running and a step when it is resumed."""
    callbacks = np.zeros(WAIT + 1, np.int64)
    steps = np.ones(WAIT + 1, np.int64)
    for path in (L2, DB):
        callbacks[path] = n_callbacks[path]
        steps[path] = n_steps[path] - n_steps[HIT]
    callbacks[WAIT], steps[WAIT] = n_callbacks[L2], n_steps[L2] - n_steps[HIT] + 1
    return callbacks, steps


@numba.njit(cache=True, inline="always")
def _after_miss(extra: float, callbacks: int, steps: int, callback: float) -> float:  # pragma: no cover
    """CPU of one task step after a keyed read missed L1: its miss CPU beyond a hit's, less its callbacks,
    spread over its steps after the lookup."""
    return max(0.0, extra - callbacks * callback) / steps


@numba.njit(cache=True)
def _replay(arrival: np.ndarray, loop: np.ndarray, path: np.ndarray, step_cpu: np.ndarray, extra: np.ndarray,
            key: np.ndarray, l1_exp: np.ndarray, l2_exp: np.ndarray, l1_ttl: float, l2_ttl: float, io_l2: float,
            io_db: np.ndarray, ops: np.ndarray, after_cb: np.ndarray, after_steps: np.ndarray, loops: int,
            cores: int, speed: float, pool: int, callback: float, wake: float, switch: float,
            slice_s: float) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """Finish time of every job (arrival-sorted) and the loop wake-ups and preemptions charged to it
    (columns 0 and 1); see the module docstring for the rules. ``path`` is updated in place for keyed
    reads (``key[j] >= 0``): they start as L1 hits and become L2, DB or WAIT when the cache says so. The
    parse callback and each task step up to the lookup cost ``step_cpu[j]``; a keyed read that missed
    L1 spreads ``extra[j]`` (its miss CPU beyond a hit's), less its path's ``after_cb`` callbacks, over
    the path's ``after_steps`` task steps after the lookup (`_misses`); flush, reader and grant cost
    ``callback``. The cores advance together (the one furthest behind runs next), so the
    shared L2 sees every core's fills and deletes in time order."""
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
    # single flight, per loop and key: the job filling it, and the jobs waiting for it (a linked list)
    filler = np.full((loops, l2_exp.size), -1, np.int64)
    first_waiter = np.full(n, -1, np.int64)
    last_waiter = np.full(n, -1, np.int64)
    next_waiter = np.full(n, -1, np.int64)
    dirty = np.zeros(n, np.bool_)
    # each core's clock, the loop on it, what is left of that loop's slice, a pending switch charge
    c_now = np.zeros(cores)
    c_cur = np.full(cores, -1, np.int64)
    c_slice = np.zeros(cores)
    c_pre = np.zeros(cores, np.bool_)
    c_left = np.zeros(cores, np.int64)
    for k in range(loops):
        c_left[k % cores] += count[k]
    left = n
    while left > 0:
        core = -1
        for c in range(cores):
            if c_left[c] > 0 and (core < 0 or c_now[c] < c_now[core]):
                core = c
        now, cur, slice_left, preempted = c_now[core], c_cur[core], c_slice[core], c_pre[core]
        while True:  # one callback on this core (or its move to the next event); break ends the step
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
                break
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
                    break
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
            op = -1
            stall = path[j] == STALL
            if kind == _PARSE:
                cost = step_cpu[j]
            elif kind == _STEP:
                cost = step_cpu[j]
                op = ops[path[j], step_of[j]] if path[j] != WAIT else _END
                kj = key[j]
                if kj >= 0 and path[j] != WRITE:  # a keyed read: the caches decide its path here
                    if path[j] == HIT and op == _END:  # the lookup: L1 of this worker
                        if l1_exp[k, kj] <= now:
                            path[j] = L2
                            op = ops[L2, step_of[j]]
                    elif path[j] == L2 and op == _END:  # Redis answered the GET
                        if l2_exp[kj] > now:
                            cost = _after_miss(extra[j], after_cb[L2], after_steps[L2], callback)
                            l1_exp[k, kj] = now + l1_ttl
                        elif filler[k, kj] >= 0:  # a fill of this key is running here: wait for it
                            path[j] = WAIT
                            op = _PARK
                            cost = _after_miss(extra[j], after_cb[WAIT], after_steps[WAIT], callback)
                            f = filler[k, kj]
                            if first_waiter[f] < 0:
                                first_waiter[f] = j
                            else:
                                next_waiter[last_waiter[f]] = j
                            last_waiter[f] = j
                        else:  # fill it: read the database, store in Redis, then in L1
                            path[j] = DB
                            filler[k, kj] = j
                            op = ops[DB, step_of[j]]
                            cost = _after_miss(extra[j], after_cb[DB], after_steps[DB], callback)
                    elif path[j] == DB:
                        cost = _after_miss(extra[j], after_cb[DB], after_steps[DB], callback)
                        if op == _END:  # the fill is stored: L2 and L1 hold it, its waiters resume
                            if not dirty[j]:
                                l2_exp[kj] = now + l2_ttl
                                l1_exp[k, kj] = now + l1_ttl
                            filler[k, kj] = -1
                            w = first_waiter[j]
                            while w >= 0:
                                p2 = o + (rq_head[k] + rq_len[k]) % cap
                                rq_job[p2], rq_kind[p2] = w, _STEP
                                rq_len[k] += 1
                                w = next_waiter[w]
                    elif path[j] == WAIT:  # resumed by its fill
                        op = _END
                        cost = _after_miss(extra[j], after_cb[WAIT], after_steps[WAIT], callback)
                elif kj >= 0 and op == _END:  # a keyed write's invalidation: Redis and this worker's L1
                    l2_exp[kj] = -np.inf
                    l1_exp[k, kj] = -np.inf
                    if filler[k, kj] >= 0:
                        dirty[filler[k, kj]] = True
            else:
                cost = callback
            if idle[k] and not stall:  # the first callback after the loop slept in epoll pays its wake-up
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
            if stall:
                finish[j] = now
                c_left[core] -= 1
                left -= 1
            elif kind in (_PARSE, _READER):
                nxt = _STEP
            elif kind == _FLUSH:
                heap_push(h_tag[o:o + cap], h_who[o:o + cap], h_len[k], now + io_l2, j)
                h_len[k] += 1
            elif kind == _GRANT:
                heap_push(h_tag[o:o + cap], h_who[o:o + cap], h_len[k], now + io_db[j], j)
                h_len[k] += 1
            else:
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
                elif op == _END:
                    finish[j] = now
                    c_left[core] -= 1
                    left -= 1
            if nxt >= 0:
                p2 = o + (rq_head[k] + rq_len[k]) % cap
                rq_job[p2], rq_kind[p2] = j, nxt
                rq_len[k] += 1
            break
        c_now[core], c_cur[core], c_slice[core], c_pre[core] = now, cur, slice_left, preempted
    return finish, counts


@dataclass
class CacheState:
    """What the caches hold, as expiry times per key: each loop's (worker's) own L1 and the shared L2.

    A keyed replay reads and changes it: an L1 or L2 entry appears when the request that filled it
    reaches that step (late when the loop is busy), and writes delete. Kept between replays so that a
    warm-up's caches carry into the measured window (`shifted`)."""

    l1_expires: np.ndarray  # (loops, keys)
    l2_expires: np.ndarray  # (keys,)
    l1_ttl_s: float
    l2_ttl_s: float

    @classmethod
    def empty(cls, loops: int, keys: int, l1_ttl_s: float, l2_ttl_s: float) -> CacheState:
        return cls(np.full((loops, keys), -np.inf), np.full(keys, -np.inf), l1_ttl_s, l2_ttl_s)

    def shifted(self, dt: float) -> CacheState:
        """The same contents on a clock ``dt`` seconds later (a replay that starts ``dt`` after this one)."""
        return replace(self, l1_expires=self.l1_expires - dt, l2_expires=self.l2_expires - dt)


class Replayed(NamedTuple):
    latency: np.ndarray  # seconds, per job
    paid: np.ndarray  # (jobs, 2): loop wake-ups and preemptions charged to each job
    path: np.ndarray  # each job's path as served (keyed reads: decided by the caches during the replay)


def replay(arrival: np.ndarray, loop: np.ndarray, path: np.ndarray, cpu: np.ndarray, *, cores: int,
           speed: float = 1.0, steps: int, statements_per_write: int, io_l2: float, io_db: float,
           io_db_write: float, pool: int, callback: float, wake: float, slice_s: float,
           switch: float = 0.0, key: np.ndarray | None = None, miss_cpu: np.ndarray | None = None,
           cache: CacheState | None = None) -> Replayed:
    """Latency (s) of every job and, per job, what it paid for beyond its own CPU. ``cpu`` is each
    request's whole CPU demand (s), ``path`` one of HIT/L2/DB/WRITE, ``loop`` the event loop serving it
    (loop ``k`` runs on core ``k mod cores``, at ``speed`` x the calibrated host's speed); ``pool``
    connections per loop; ``io_db_write`` is per statement; times in seconds.

    ``paid`` has a row per job: column 0 the loop wake-ups (its loop had slept in epoll when
    one of its callbacks became ready: the model's voluntary context switches), column 1 the
    preemptions (its callback was the first after the core was taken from another loop that still
    had work: involuntary switches, ``switch`` each). Counted to set against the workers' own counts
    and to price that CPU at every load.

    Keyed (``key``, ``miss_cpu`` and ``cache`` given): a read's path is not given but found, as the
    service finds it, when its lookup runs: in its worker's L1, else in Redis after the GET's round
    trip, else by filling the key (pooled query, Redis SET, then L1), or, when the worker is already
    filling that key, by waiting for that fill (single flight: path WAIT). A read's ``path`` entry
    is ignored (writes are still WRITE); ``cpu`` is then its CPU as an L1 hit and ``miss_cpu`` as any
    other path; a write deletes its key from Redis and its worker's L1. ``cache`` is updated in place.
    A key of -1 keeps the given path."""
    if arrival.size == 0:
        return Replayed(np.empty(0), np.zeros((0, 2), np.int64), np.asarray(path, np.int64).copy())
    ops, n_steps, n_callbacks = programs(steps, statements_per_write)
    order = np.argsort(arrival, kind="stable")
    a = np.ascontiguousarray(arrival[order], np.float64)
    p = np.ascontiguousarray(path[order], np.int64)
    c = np.ascontiguousarray(cpu[order], np.float64)
    loops = int(loop.max()) + 1
    keyed = [x is not None for x in (key, miss_cpu, cache)]
    if any(keyed) and not all(keyed):
        raise ValueError("a keyed replay needs key, miss_cpu and cache together")
    if key is None or cache is None or miss_cpu is None:
        k = np.full(a.size, -1, np.int64)
        cache = CacheState.empty(loops, 1, 0.0, 0.0)
        extra = np.zeros(a.size)
    else:
        k = np.ascontiguousarray(key[order], np.int64)
        extra = np.ascontiguousarray(miss_cpu[order], np.float64) - c
        p = np.where((k >= 0) & (p != WRITE) & (p != STALL), HIT, p)
        if cache.l1_expires.shape[0] < loops:
            raise ValueError(f"the cache state has L1s for {cache.l1_expires.shape[0]} loops, the trace uses {loops}")
    stall = p == STALL
    table = np.where(stall, HIT, p)
    own = np.maximum(c - n_callbacks[table] * callback, 0.05 * c)  # what the parse and task steps share
    per = np.where(stall, c, own / (n_steps[table] + 1))
    keyed_read = (k >= 0) & (p != WRITE) & ~stall
    per[keyed_read] = c[keyed_read] / (n_steps[HIT] + 1)  # up to the lookup a keyed read costs what an L1 hit does
    io = np.where(p == WRITE, io_db_write, io_db).astype(np.float64)
    finish, counts = _replay(a, np.ascontiguousarray(loop[order], np.int64), p, per, extra, k, cache.l1_expires,
                             cache.l2_expires, float(cache.l1_ttl_s), float(cache.l2_ttl_s), float(io_l2), io, ops,
                             *_misses(n_steps, n_callbacks), loops, max(1, min(int(cores), loops)), float(speed),
                             max(1, int(pool)), float(callback), float(wake), float(switch), float(slice_s))
    out = np.empty(arrival.size)
    out[order] = finish - a
    paid = np.empty((arrival.size, 2), np.int64)
    paid[order] = counts
    served = np.empty(arrival.size, np.int64)
    served[order] = p
    return Replayed(out, paid, served)
