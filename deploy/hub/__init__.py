"""The class hub: the course on one JupyterHub server, set up with one command.

``hub.toml`` (settings) and a roster CSV are the data; ``python -m deploy.hub`` the command
(``make hub ROSTER=roster.csv``). Modules, from data to the machine:

* :mod:`.settings` reads ``hub.toml``; :mod:`.roster` reads the roster;
* :mod:`.plan` decides every change from them and a snapshot of the machine (plain functions,
  tested without root), and which permissions must hold afterwards;
* :mod:`.render` makes the files the hub and nbgrader read;
* :mod:`.system` carries the steps out (root: accounts, folders, the runtime under /opt);
* :mod:`.setup` puts them in order; ``jupyterhub_config.py`` is the hub's configuration.

Nothing imports this package; it imports nothing of the course packages (it runs with any
Python 3.11, before the course's environment exists).
"""
