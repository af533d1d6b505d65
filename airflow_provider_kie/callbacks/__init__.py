"""Callback-woken waits: KIE's callbacks, received in the api-server, wake the waiting triggers.

* :mod:`.journal` - the store: one Variable listing which tasks called back recently (pure functions);
* :mod:`.urls` - the callback URL given to KIE and its inverse;
* :mod:`.receiver` - the api-server side: checks a callback and records it;
* :mod:`.watcher` - the triggerer side: one reader per event loop that wakes the waits;
* :mod:`.plugin` - the Airflow plugin serving the receiver under ``/kie``.

Import the submodules directly; this package imports nothing, so each process loads only what it uses.
"""
