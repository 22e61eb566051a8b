"""Run checks from the dashboard: a config (file on this machine, upload, or a form), an environment,
a progress bar per target, cancel. The same runner as `scaleready check`."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard.state import show_flash, store_or_stop
from scaleready.config import Config, ConfigError, load_config
from scaleready.config_builder import TargetRow, build_config_text, config_from_text
from scaleready.plugins import default_registry
from scaleready.runjob import RunJob, format_ms
from scaleready.targets_view import redacted_options

store = store_or_stop()
st.title("Run checks")
show_flash()
st.caption("Collect from your targets, evaluate every check, score and store the run — what `scaleready check` "
           "does. Secrets stay references (`${ENV}`, `${file:/path}`), resolved in memory on this server only.")


def _load(source: str) -> Config | None:
    """The config the user chose, or None with the reason on the page."""
    try:
        if source == "A config file on this machine":
            path = st.text_input("Path of the config file", value=st.session_state.get("config_path",
                                                                                       "scaleready.yaml"))
            st.session_state["config_path"] = path
            if not path.strip() or not Path(path).expanduser().is_file():
                st.info(f"No config file at '{path}' on this machine (`scaleready init` writes a starter).")
                return None
            return load_config(Path(path).expanduser())
        if source == "Upload a config":
            upload = st.file_uploader("scaleready.yaml", type=["yaml", "yml"])
            if upload is None:
                return None
            return config_from_text(upload.getvalue().decode("utf-8", errors="replace"), upload.name)
        kinds = sorted(default_registry().collectors)
        st.caption("One row per target; **keys** are the kind's keys as `key: value` lines, e.g. "
                   "`url: redis://cache:6379/0` or `dsn: postgresql://app:${PG_PASSWORD}@db/app`.")
        edited = st.data_editor(
            st.session_state.get("form_rows", [{"name": "", "kind": kinds[0] if kinds else "",
                                                "environment": "", "keys": "", "active": False}]),
            num_rows="dynamic", width="stretch", key="targets-form",
            column_config={"kind": st.column_config.SelectboxColumn("kind", options=kinds, required=True),
                           "keys": st.column_config.TextColumn("keys (YAML)", width="large"),
                           "active": st.column_config.CheckboxColumn("active probes")})
        rows = [TargetRow(str(r.get("name") or ""), str(r.get("kind") or ""), str(r.get("environment") or ""),
                          str(r.get("keys") or "").replace("; ", "\n"), bool(r.get("active")))
                for r in edited if r.get("name")]
        if not rows:
            return None
        text = build_config_text(rows)
        with st.expander("The config this form makes"):
            st.code(text, language="yaml")
        return config_from_text(text)
    except ConfigError as exc:
        st.error(f"This config cannot be used: {exc}")
        return None
    except (OSError, UnicodeError) as exc:
        st.error(f"This config cannot be read: {exc}")
        return None


job: RunJob | None = st.session_state.get("run_job")
running = job is not None and not job.done

source = st.radio("Config", ["A config file on this machine", "Upload a config", "Build a targets list"],
                  horizontal=True, disabled=running)
config = _load(source)
if config is not None:
    environments = sorted({t.target.environment for t in config.targets if t.target.environment})
    environment = st.selectbox("Environment", ["(all targets)", *environments], disabled=running,
                               help="Targets without an environment belong to every environment.")
    chosen_env = None if environment == "(all targets)" else environment
    selected = config.select(chosen_env)
    with st.expander(f"{len(selected)} target(s) to check"):
        st.dataframe([{"target": c.target.name, "kind": c.target.kind, "environment": c.target.environment or "",
                       "active": c.target.active, "timeout": f"{c.target.timeout:g} s",
                       "keys": str(config.redactor.scrub(redacted_options(c.target.options))),
                       "secret problem": c.secret_error or ""} for c in selected], hide_index=True, width="stretch")
    if st.button("Run the checks", type="primary", disabled=running or not selected):
        st.session_state["run_job"] = RunJob(config, store, chosen_env).start()
        st.rerun()


def _draw(current: RunJob) -> None:
    """Where the run is: one bar per target, then the outcome."""
    st.subheader("Progress")
    st.progress(current.overall(), text=f"{current.state} · {sum(t.phase == 'evaluated' for t in current.progress())}"
                f"/{len(current.targets)} targets done")
    for row in current.progress():
        st.progress(row.fraction, text=row.label)
    if not current.done:
        if st.button("Cancel the run"):
            current.cancel()
        return
    if current.state == "done" and current.result is not None:
        run = current.result
        took = format_ms(1000 * ((current.finished or current.started) - current.started))
        st.success(f"Run {run.id[:8]} stored: score {run.score.overall:.1f}, coverage {run.score.coverage:.0%}, "
                   f"{len(run.findings):,} findings in {took}.")
        for snap in run.snapshots:
            if snap.error:
                st.warning(f"{snap.target} ({snap.kind}) could not be collected: {snap.error} — its checks are "
                           "`error` findings with this reason.")
        if st.button("Open its scorecard", type="primary"):
            st.session_state["run_id"] = run.id
            st.session_state.pop("run_job", None)
            st.switch_page("pages/scorecard.py")
    elif current.state == "cancelled":
        st.info(current.error or "The run was cancelled; nothing was stored.")
    else:
        st.error(f"The run failed: {current.error}")
    if st.button("Clear"):
        st.session_state.pop("run_job", None)
        st.rerun()


@st.fragment(run_every=0.5)
def _poll() -> None:
    """Redrawn twice a second while the run goes; when it ends, the whole page reruns once (and
    stops polling, so the inputs above stay quiet)."""
    current: RunJob | None = st.session_state.get("run_job")
    if current is None:
        return
    _draw(current)
    if current.done:
        st.rerun()


if job is not None and not job.done:
    _poll()
elif job is not None:
    _draw(job)
