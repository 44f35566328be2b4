"""The web console and the API docs, served by the application itself from local files.

In: browser requests for ``/``, ``/console/…`` and ``/docs``. Out: the console's page and static
modules (``static/``), the region's map geometry simplified for drawing, and Swagger UI from the
``fastapi-offline`` package, every HTML page with a Content-Security-Policy that allows no inline
script and no other host. The console talks to the same staff API as everyone else.
"""
