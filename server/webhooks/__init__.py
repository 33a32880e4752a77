"""Webhooks: the SSRF guard, signing, one signed POST, and the delivery schedule.

Routes (``server/api/webhooks.py``) and actors (``workers/webhooks.py``) stay thin and
call into these modules; nothing here imports either of them.
"""
