"""Waivers: grant (with reason and expiry), list with their state today, revoke. All audited."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import streamlit as st

from dashboard.project import pick_project
from dashboard.state import flash, show_flash, store_or_stop
from scaleready.store import StoreError
from scaleready.waivers import waiver_rows

store = store_or_stop()
project = pick_project(store)
st.title("Waivers")
show_flash()
st.caption(f"Project **{project}**. A waiver accepts the risk of a check's fail/warn findings until it expires; "
           "an expired waiver stops applying and stays listed as expired.")

show_revoked = st.toggle("Show revoked waivers", value=False)
rows = waiver_rows(store, project, include_revoked=show_revoked)
if rows:
    st.dataframe(pd.DataFrame(rows), width="stretch", hide_index=True,
                 column_order=["id", "state", "check", "target", "subject", "reason", "expires", "by", "created"])
else:
    st.info("No waivers in this project.")

left, right = st.columns(2)
with left.form("grant", clear_on_submit=True):
    st.subheader("Grant a waiver")
    check_id = st.text_input("Check id (glob allowed)", placeholder="kubernetes.replicas.min")
    target = st.text_input("Target (glob)", value="*")
    subject = st.text_input("Subject (glob)", value="*")
    reason = st.text_area("Reason")
    expires = st.date_input("Expires on", value=None, min_value=datetime.now(UTC).date())
    actor = st.text_input("Granted by")
    if st.form_submit_button("Grant waiver", type="primary"):
        try:
            if not check_id.strip():
                raise ValueError("name the check to waive")
            until = datetime.combine(expires, datetime.min.time(), UTC) if isinstance(expires, date) else None
            wid = store.add_waiver(check_id.strip(), reason.strip(), actor.strip(), target.strip() or "*",
                                   subject.strip() or "*", until, project=project)
        except (ValueError, StoreError) as exc:
            st.error(str(exc))
        else:
            flash(f"Waiver {wid} granted; the next check applies it.")
            st.rerun()

active = [r for r in rows if r["state"] != "revoked"]
with right.form("revoke", clear_on_submit=True):
    st.subheader("Revoke a waiver")
    choice = st.selectbox("Waiver", [r["id"] for r in active],
                          format_func=lambda i: next(f"{r['id']}: {r['check']} ({r['state']})" for r in active
                                                     if r["id"] == i))
    revoker = st.text_input("Revoked by")
    if st.form_submit_button("Revoke", disabled=not active):
        try:
            if not revoker.strip():
                raise ValueError("say who revokes it")
            store.revoke_waiver(int(choice), revoker.strip(), project=project)
        except (ValueError, StoreError) as exc:
            st.error(str(exc))
        else:
            flash(f"Waiver {choice} revoked.")
            st.rerun()
