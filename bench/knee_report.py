"""The judgement and the Markdown table of bench/results/simulator-knee.json (see validate_knee.py).

Targets (issue 17): ahead-of-time P99 within 1.25x at <= 85 % utilisation and 1.5x at 95 %; the
measured capacity inside the predicted interval and within 10 % of its centre; stale fraction
within 2x or inside its interval; per-tier hit ratios within 3 points. Points beyond 95 % are
shown but carry no P99 target (the issue sets none there).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def p99_tolerance(utilisation: float) -> float | None:
    if utilisation <= 0.85 + 1e-9:
        return 1.25
    if utilisation <= 0.95 + 1e-9:
        return 1.5
    return None


def judge(doc: dict[str, Any]) -> dict[str, Any]:
    """Per-target verdicts, each with the figures it was decided on."""
    out: dict[str, Any] = {"p99": [], "hit": [], "stale": None, "capacity": None}
    for r in doc["rows"]:
        if r["kind"] == "sweep":
            tol = p99_tolerance(r["utilisation"])
            ratio = r["p99_predicted_ms"] / r["p99_measured_ms"] if r["p99_measured_ms"] else float("nan")
            inside = r["p99_predicted_low_ms"] <= r["p99_measured_ms"] <= r["p99_predicted_high_ms"]
            out["p99"].append({"utilisation": r["utilisation"], "ratio": ratio, "tolerance": tol, "in_interval": inside,
                               "passed": None if tol is None else 1 / tol <= ratio <= tol})
            # judged at the issue's loads (50-95 %); beyond the measured capacity requests are answered
            # seconds after they were sent and the counts are shown, not judged (the report says so)
            out["hit"].append({"utilisation": r["utilisation"], "judged": tol is not None,
                               "l1_points": 100 * (r["hit_l1_predicted"] - r["hit_l1_measured"]),
                               "l2_points": 100 * (r["hit_l2_predicted"] - r["hit_l2_measured"]),
                               "passed": abs(r["hit_l1_predicted"] - r["hit_l1_measured"]) <= 0.03
                               and abs(r["hit_l2_predicted"] - r["hit_l2_measured"]) <= 0.03})
        elif r["kind"] == "stale" and r["stale_measured"] is not None:
            m, p = r["stale_measured"], r["stale_predicted"]
            within = m > 0 and p > 0 and 0.5 <= p / m <= 2.0
            inside = r["stale_predicted_low"] <= m <= r["stale_predicted_high"]
            out["stale"] = {"measured": m, "predicted": p, "ratio": p / m if m else float("nan"),
                            "passed": within or inside}
    cap = doc["capacity"]
    crossing = cap.get("measured_crossing")
    if crossing is None:
        out["capacity"] = {"passed": None, "why": "no two sweep points bracket the target: not measured"}
    else:
        off = abs(crossing - cap["centre"]) / cap["centre"]
        out["capacity"] = {"measured": crossing, "interval": [cap["rate_low"], cap["rate_high"]],
                           "centre": cap["centre"], "off_centre": off,
                           "passed": cap["rate_low"] <= crossing <= cap["rate_high"] and off <= 0.10}
    return out


def _fmt(v: Any, spec: str = ".1f") -> str:
    return "-" if v is None else format(v, spec)


def _lag_runs(row: dict[str, Any]) -> str:
    """The send lag of each repeat and the connections each opened (rows made before they were kept: none)."""
    if "send_lag_p99_runs_ms" not in row:
        return ""
    lags = ", ".join(f"{x:.1f}" for x in row["send_lag_p99_runs_ms"])
    return f" ({lags}); {', '.join(str(c) for c in row['connections_used'])}"


def _wake_line(doc: dict[str, Any]) -> str:
    cal = doc["calibration"]
    fit = cal.get("cpu_fit")
    if fit is None:  # files calibrated before the regression on context switches
        return (f"- loop wake-up {cal.get('wake_ms', 0):.3f} ms per request that finds the loop idle (CPU per request "
                f"{cal.get('poisson_cpu_ms', 0):.3f} ms with Poisson arrivals, {cal.get('burst_cpu_ms', 0):.3f} ms "
                "with the same light load in bursts of 8)")
    check = doc.get("calibration_check", {})

    def counts(runs: list[dict[str, Any]]) -> str:
        return ", ".join(f"{r['voluntary_switches_per_request']:.2f}+{r['involuntary_switches_per_request']:.2f}"
                         for r in runs)

    nan = float("nan")
    hot_bursts = cal.get("hot_burst_runs")
    if hot_bursts:  # two prices: a sleep (voluntary switch) and a preemption (involuntary)
        prices = (f"- a loop's sleep in epoll {fit['wake_ms']:.3f} ms, a preemption {fit['switch_ms']:.3f} ms "
                  "(per voluntary / involuntary context switch)")
        kinds = "hot product, Poisson, bursts of the same rate, hot product in bursts"
        extra = f"; hot product in bursts: {counts(hot_bursts)}"
    else:
        prices = f"- context switch {fit['switch_ms']:.3f} ms each (a loop's sleep in epoll or a preemption)"
        kinds, extra = "hot product, Poisson, bursts of the same rate", ""
    speeds = (", each set with its own host speed (factors in the interval below)" if fit.get("speed_per_set")
              else "")
    failed = (f" **CALIBRATION FAILED: {'; '.join(fit['problems'])}; the predictions stand on it.**"
              if fit.get("problems") else "")
    return (f"{prices}, busy-loop CPU {fit['hit_ms']:.3f} ms (L1 hit) / {fit['miss_ms']:.3f} ms (full path): least "
            f"squares over {len(fit['residuals_ms'])} light runs ({kinds}{speeds}; residual RMS "
            f"{fit['rms_residual_ms']:.3f} ms; bench/knee_cpu.py). Poisson runs: CPU {cal['poisson_cpu_ms']:.3f} ms, "
            f"voluntary+involuntary switches per request {counts(cal['light_runs'])}; bursts: CPU "
            f"{cal['burst_cpu_ms']:.3f} ms, {counts(cal['burst_runs'])}{extra}. The model replayed at the light "
            f"rate: CPU {check.get('model_cpu_ms', nan):.3f} ms, {check.get('model_wakes_per_request', nan):.2f}+"
            f"{check.get('model_switches_per_request', nan):.2f} switches per request{failed}")


def _cpu_by_load(doc: dict[str, Any]) -> list[str]:
    """Measured and replayed CPU and context switches per request at every sweep load: where the model's
    CPU comes apart from the workers' (the knee moves with it)."""
    sweep = [r for r in doc["rows"] if r["kind"] == "sweep" and "cpu_predicted_ms" in r]
    if not sweep:
        return []
    lines = ["", "## CPU per request and context switches by load", "",
             "The replay's own sleeps (voluntary switches) and preemptions (involuntary ones) against the workers' "
             "counts from /proc, and the CPU per request they add up to.", "",
             "| utilisation | CPU ms measured (runs) | CPU ms model | voluntary / request measured / model | "
             "involuntary / request measured / model | service core busy measured / model |",
             "|---|---|---|---|---|---|"]

    def med(r: dict[str, Any], key: str) -> str:
        return "-" if key not in r else format(float(np.median(r[key])), ".2f")

    for r in sweep:
        cpu = r["cpu_per_request_ms"]
        lines.append(f"| {r['utilisation']:.2f} | {np.median(cpu):.3f} ({', '.join(format(x, '.2f') for x in cpu)}) | "
                     f"{r['cpu_predicted_ms']:.3f} | {med(r, 'voluntary_switches_per_request')} / "
                     f"{r['wakes_predicted']:.2f} | {med(r, 'involuntary_switches_per_request')} / "
                     f"{r.get('preemptions_predicted', float('nan')):.2f} | "
                     f"{r['service_core_busy']:.2f} / {r['model_utilisation']:.2f} |")
    return lines


def _modelled_collections(doc: dict[str, Any]) -> Any:
    """The model's full collections in one load's windows (all workers, all repeats), or None without stops:
    the replay's stop times (knee_trace.stalls) counted over the measured window."""
    from simulator.knee_params import KneeParams
    from simulator.knee_trace import loop_count, stalls

    if not doc.get("model"):
        return None
    params = KneeParams(**doc["model"])
    if params.gc_ms_per_request <= 0:
        return None
    loops, window = loop_count(params), doc["duration_s"]

    def count(rate: float) -> int:
        return sum(int(stalls(params, rate, window, loops, seed)[0].size) for seed in range(1, doc["repeats"] + 1))
    return count


def _seen_collections(gc: dict[str, Any]) -> str:
    """The full collections one load's windows saw, with the requests served per collection and their mean
    pause. Files paced by promotions (``since``) keep, as ``pause_ms`` and ``requests_per_collection``, every
    collection's mean (start-up ones included) and the rule's pace, so only their ``seen_pause_ms`` is the
    windows' own (files made before it was kept show no pause)."""
    n = gc["full_collections"]
    if not n:
        return "0"
    pause = gc.get("seen_pause_ms") if gc.get("since") else gc["pause_ms"]
    return f"{n} ({gc['requests_served'] / n:,.0f} req" + (f", {pause:.0f} ms)" if pause else ")")


def _gc_line(doc: dict[str, Any]) -> list[str]:
    """The full collections the model stalls its loops with, from the light runs, beside the same figures
    measured at each sweep load: the model takes their pace per request and their length to be the same at
    every load, and these show whether they were."""
    gc = doc["calibration"].get("gc")
    if gc is None:
        return []
    modelled = _modelled_collections(doc)
    at_loads = "; ".join(f"{r['utilisation']:.2f}: {_seen_collections(r['gc'])}"
                         + (f", model {modelled(r['rate'])}" if modelled else "")
                         for r in doc["rows"] if r["kind"] == "sweep" and "gc" in r)
    if gc.get("since"):  # paced by promotions (refservice.metrics.watch_heap)
        every = gc["requests_per_collection"]
        pace = f"one per {every:,.0f} requests a worker serves" if every else "none (nothing promoted)"
        pause = f"{gc['pause_ms']:.0f} ms" if gc["pause_ms"] else "untimed"
        return [f"- full garbage collections, paced as CPython does (a quarter of the long-lived objects promoted "
                f"again, after at least 11 generation-1 collections): {gc['long_lived_objects']:,.0f} long-lived "
                f"objects, {gc['promoted_per_request']:.2f} promoted and {gc['young_collections_per_request']:.5f} "
                f"generation-1 collections per request in the light runs, so {pace}; {pause} each (mean of the "
                f"{gc['timed_collections']} the workers made, each one's collection once started included); the model "
                "stops that worker's loop for as long (simulator/rounds.py STALL), the first one a warm-up after its "
                f"start-up collection. The light runs saw {gc['full_collections']} in their windows. At the sweep "
                f"loads (collections in the windows, requests per collection, their mean pause where kept, and the "
                f"model's count): {at_loads}"]
    if not gc["full_collections"]:
        return [f"- full garbage collections: none in the light runs ({int(gc['requests_served']):,} requests): the "
                f"model has no stalls; at the sweep loads: {at_loads}"]
    return [f"- full garbage collections (the workers' python_gc_pause_seconds, {gc['from']}): "
            f"{gc['full_collections']} in {int(gc['requests_served']):,} requests, one per "
            f"{gc['requests_per_collection']:,.0f} requests a worker serves, {gc['pause_ms']:.0f} ms each on average; "
            "the model stops that worker's loop for as long (simulator/rounds.py STALL). At the sweep loads "
            f"(collections, and requests per collection and mean pause): {at_loads}"]


def _capacity_line(mc: dict[str, Any]) -> str:
    """How the capacity that sets the sweep's loads was measured, with the spread of its runs (older
    files kept a single overload run)."""
    runs = mc.get("overload_runs") or [mc["overload_run"]]
    rates = ", ".join(format(o["completion_rate"], ".0f") for o in runs)
    what = f"median completion rate of {len(runs)} overload runs: {rates}" if len(runs) > 1 else \
        "the overload run's completion rate"
    return (f"Measured capacity ({what}): {mc['rate']:.0f} req/s; utilisation = rate / measured capacity; each "
            "load's runs are " + ("spread over the session, one per pass" if mc.get("overload_runs")
                                  else "back to back") + ".")


def markdown(doc: dict[str, Any]) -> str:
    verdict = judge(doc)
    cal, model = doc["calibration"], doc["model"]
    lines = ["# The simulator at the knee: knee model vs a scaled reference deployment", "",
             f"Generated {doc['generated']} by `python bench/validate_knee.py` ({doc['workers']} workers, "
             f"{doc['duration_s']:g} s per run x {doc['repeats']}, {doc['keys']:,} products, Zipf 1.0, write share "
             f"{doc['write_ratio']:.0%}; wall time {doc.get('wall_s', 0):.0f} s)"
             + (f"; every sweep and calibration run follows {doc['warmup_s']:g} s of the same load on the same "
                "workers, left out of the figures (the model predicts a warm service; the stale-read runs start cold, "
                "as their prediction does)." if doc.get("warmup_s") else ".")
             + (f" The model's side was redone on {doc['repredicted']} by `--repredict` from this run's own "
                "calibration; the measurements are the run's." if doc.get("repredicted") else ""),
             _capacity_line(doc["measured_capacity"]), "",
             "| utilisation | rate req/s | P99 ms measured (median; runs) | P99 ms predicted [low, high] | ratio "
             "| target | P99 PS / FCFS ms | L1 hit meas/pred | L2 hit meas/pred | stale meas/pred [interval] "
             "| host load 1m per run | service core busy; generator send lag P99 ms (runs); connections opened |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    p99 = iter(verdict["p99"])
    for r in doc["rows"]:
        loads = ", ".join(f"{h['loadavg_1m']:.1f}" for h in r["host_load"])
        if r["kind"] == "sweep":
            v = next(p99)
            target = "-" if v["tolerance"] is None else f"{v['tolerance']}x: {'pass' if v['passed'] else 'FAIL'}"
            runs = ", ".join(f"{x:.0f}" if x >= 10 else f"{x:.1f}" for x in r["p99_measured_runs_ms"])
            lines.append(
                f"| {r['utilisation']:.2f} | {r['rate']:.0f} | {r['p99_measured_ms']:.1f} ({runs}) | "
                f"{r['p99_predicted_ms']:.1f} [{r['p99_predicted_low_ms']:.1f}, {r['p99_predicted_high_ms']:.1f}] | "
                f"{v['ratio']:.2f} | {target} | {r.get('p99_predicted_ps_ms', float('nan')):.1f} / "
                f"{r['p99_predicted_fcfs_ms']:.1f} | "
                f"{r['hit_l1_measured']:.3f}/{r['hit_l1_predicted']:.3f} | "
                f"{r['hit_l2_measured']:.3f}/{r['hit_l2_predicted']:.3f} | -/{r['stale_predicted']:.4f} | {loads} | "
                f"{r['service_core_busy']:.2f}; {r['send_lag_p99_ms']:.1f}{_lag_runs(r)} |")
        else:
            lines.append(
                f"| {r['utilisation']:.2f} (apply delay {r['apply_delay_ms']} ms, writes "
                f"{r['write_ratio']:.0%}) | {r['rate']:.0f} | - | {r['p99_predicted_ms']:.1f} | - | - | - | - | - | "
                f"{_fmt(r['stale_measured'], '.4f')}/{r['stale_predicted']:.4f} [{r['stale_predicted_low']:.4f}, "
                f"{r['stale_predicted_high']:.4f}] (runs "
                f"{', '.join(format(x, '.4f') for x in r['stale_measured_runs'])})"
                f" | {loads} | - |")
    cap, cv = doc["capacity"], verdict["capacity"]
    lines += ["", "## Capacity", "",
              f"Predicted rate at which P99 reaches {cap['target_p99_ms']:g} ms: {cap['rate']:.0f} req/s, interval "
              f"[{cap['rate_low']:.0f}, {cap['rate_high']:.0f}] (centre {cap['centre']:.0f}); model saturation "
              f"{cap['saturation_rate']:.0f} req/s.",
              f"Measured crossing: {_fmt(cap['measured_crossing'], '.0f')} req/s → "
              + ("not measured: " + cv["why"] if cv["passed"] is None else
                 f"{'inside' if cv['interval'][0] <= cv['measured'] <= cv['interval'][1] else 'outside'} the interval,"
                 f" {cv['off_centre']:.1%} from its centre: {'pass' if cv['passed'] else 'FAIL'}"), ""]
    st = verdict["stale"]
    if st:
        lines.append(f"Stale reads: measured {st['measured']:.4f}, predicted {st['predicted']:.4f} (ratio "
                     f"{st['ratio']:.2f}): {'pass' if st['passed'] else 'FAIL'} (target: within 2x or inside the "
                     "interval).")
    hits = [h for h in verdict["hit"] if h["judged"]]
    over = [h for h in verdict["hit"] if not h["judged"]]
    lines.append(f"Hit ratios with {doc['workers']} instances at 50-95 % load: worst L1 "
                 f"{max(abs(h['l1_points']) for h in hits):.1f} points, worst L2 "
                 f"{max(abs(h['l2_points']) for h in hits):.1f} points: "
                 f"{'pass' if all(h['passed'] for h in hits) else 'FAIL'} (target 3 points).")
    if over:
        loads = ", ".join(format(h["utilisation"], ".2f") for h in over)
        gaps = ", ".join(f"{h['utilisation']:.2f}: {h['l1_points']:+.0f}/{h['l2_points']:+.0f}" for h in over)
        if (doc.get("model") or {}).get("keys"):
            lines.append(f"Beyond that, model minus measured in points (L1/L2): {gaps}; shown, not judged. The replay "
                         "finds each read's path when its lookup runs, so a backlog makes fills late and L1 hits "
                         "fall, as in the workers; where it is saturated and the workers are not (or the reverse), "
                         "the gap follows.")
        else:
            lines.append(f"Beyond that ({loads}), model minus measured in points (L1/L2): {gaps}: a model that "
                         "serves every request at its arrival, while the overloaded workers answer them seconds "
                         "later; shown, not judged.")
    lines += _cpu_by_load(doc)
    lines += ["", "## How asyncio shares the CPU: what the data say", ""]
    sweep = [r for r in doc["rows"] if r["kind"] == "sweep"]
    low, high = sweep[0], max((r for r in sweep if r["utilisation"] <= 0.95 + 1e-9), key=lambda r: r["utilisation"])
    shape = {}
    for r in (low, high):
        g, p = float(np.median(r["get_mean_ms"])), float(np.median(r["put_mean_ms"]))
        shape[r["utilisation"]] = (p / g, p - g)
        lines.append(f"- at {r['utilisation']:.2f}: mean GET {g:.1f} ms, mean PUT {p:.1f} ms (ratio {p / g:.2f}, "
                     f"difference {p - g:.1f} ms)")
    (r0, d0), (r1, d1) = shape[low["utilisation"]], shape[high["utilisation"]]
    if d0 > 0 and d1 > 0:
        lines.append(f"- from {low['utilisation']:.2f} to {high['utilisation']:.2f} the PUT/GET ratio moved by "
                     "a factor "
                     f"{r1 / r0:.2f} and the difference by a factor {d1 / d0:.2f}: "
                     + ("closer to processor sharing" if abs(np.log(r1 / r0)) < abs(np.log(d1 / d0)) else
                        "closer to FCFS"))
    targeted = [r for r in sweep if r["utilisation"] <= 0.95 + 1e-9]

    def err(key: str) -> float:
        return float(np.mean([abs(np.log(r[key] / r["p99_measured_ms"])) for r in targeted if key in r]))

    lines += [f"- mean |log(predicted/measured)| of P99 at the targeted loads (<= 95 %): event-loop rounds "
              f"({model['discipline']}) {err('p99_predicted_ms'):.2f}, processor sharing "
              f"{err('p99_predicted_ps_ms'):.2f}, FCFS {err('p99_predicted_fcfs_ms'):.2f}",
              "- under FCFS every request waits the same queue, so PUT - GET stays constant as load grows; under "
              "processor sharing each request is stretched by the same factor, so PUT / GET stays constant. "
              "Neither is what asyncio does: a request waits a loop round for every await, so its latency grows with "
              "the awaits on its path (a database read has five more than an L1 hit), not with its CPU "
              "(simulator/rounds.py; bench/results/simulator-knee-tail.md shows where the slowest requests spent "
              "their time).", "",
              "## Calibration (light load only)", "",
              f"- rate {cal['rate']:g} req/s; fast-path CPU {cal['app_hit_cpu_ms']:.3f} ms, full-path CPU "
              f"{cal['app_cpu_ms']:.3f} ms, "
              + ("host speed of each calibration set (its CPU over the pooled prices') "
                 if cal.get("cpu_fit", {}).get("speed_per_set") else "busy-loop CPU of each calibration pair / pooled ")
              + f"{', '.join(format(x, '.2f') for x in cal['cpu_spread_per_run'])}"
              f" (the prediction interval); Redis {cal['redis_rtt_ms']:.3f} ms, PG read {cal['pg_read_ms']:.3f} ms; "
              f"light P50/P99 {cal['cal_p50_ms']:.2f}/{cal['cal_p99_ms']:.2f} ms"
              + (f" (P99 per run {', '.join(format(x, '.1f') for x in cal['cal_p99_runs_ms'])}; fitted to "
                 f"{cal['cal_tail_rule']})" if "cal_p99_runs_ms" in cal else ""),
              _wake_line(doc), *_gc_line(doc),
              f"- fitted: CPU cv {model['cpu_cv']:.1f}, client overhead {model['overhead_ms']:.2f} ms; discipline "
              f"{model['discipline']} ({model.get('steps', 1)} task steps of application work, kernel slice "
              f"{model.get('slice_ms', 0):g} ms), {model['instances']} instances on {model['cores']:g} core(s)"
              + (f"; at most {model['max_in_service']} requests in service (the generator's connection bound)"
                 if model.get("max_in_service") else ""),
              f"- placement: {sweep[-1]['placement']}", "", "## Noise", "",
              "The machine has 2 cores shared with other engineers' test runs all session. The bench runs in a "
              "scheduling group of its own at nice -15 (workers, load generator, PostgreSQL), so co-tenants get what "
              "it leaves rather than half of the service core; Redis is a shared server and is not ours to move. "
              "Every run records the "
              "1-minute load average and the busy share of each core; the P99 of repeated runs at one load is listed "
              "beside the median so the spread is visible. Near saturation a few percent of host speed moves the "
              "utilisation by as much, which is why the interval (the calibration's own CPU spread between repeats) "
              "widens sharply at 95 % and beyond. Targets are not loosened: a FAIL above is a FAIL on this run.", ""]
    return "\n".join(lines)
