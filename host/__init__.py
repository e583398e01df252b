"""The plugin host: collections API (REST and JSON-RPC), users, jobs, badges and the admin shell.

The host knows nothing of mail; plugins (found through the ``email_center.plugins`` entry-point
group) register their collections, actions, jobs, badges and UI through ``host.hookspecs``.
"""
