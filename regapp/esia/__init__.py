"""Gosuslugi (ESIA): the wire protocol, GOST signing helpers and the pages (R19–R22).

The clients themselves are plugins (``regapp_plugins.esia_client``, ``esia_fake``);
what the core needs of them is the contract in :mod:`regapp.adapters`.
"""
