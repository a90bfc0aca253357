"""The transports, one per file (as httpx's ``_transports/``): ``base`` (the protocols and what
they share), ``files`` (a result file on its way to disk), ``urllib3_transport``,
``aiohttp_transport`` and ``mock``. Import them from :mod:`kiekit.transport`."""
