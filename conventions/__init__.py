"""The ground floor: what every app shares, importing no app of ours.

The API's conventions (api.md): the error vocabulary and its shape, cursor
pagination, bounded input types, time formatting and time-zone names; and the
e-mail outbox every app's e-mail goes through (`mail`).
"""
