"""Django-free HTTP stress and measurement tools run against a live CAD ML server (issue 7).

``client`` talks to the server (loopback only, with credentials) and records every call; ``stats`` computes latency
percentiles; ``scrape`` reads the server's ``/metrics``; ``payloads`` builds CAD files; ``scenarios`` holds the
three stress scenarios the ``stress_*`` management commands run; ``soak`` the mixed-traffic soak (``bench/soak.py``).
"""
