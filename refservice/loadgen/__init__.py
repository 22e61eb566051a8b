"""Open-loop load generator: ``run(LoadSpec(...))`` → JSON-ready result with HDR histograms.

See runner.py for why latency is timed from the intended send time, schedule.py for the arrival
schedule, Zipf keys and the endpoint mix, http1.py for the raw keep-alive HTTP/1.1 transport.
"""

from refservice.loadgen.runner import LoadSpec, run, run_async

__all__ = ["LoadSpec", "run", "run_async"]
