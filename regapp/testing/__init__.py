"""The adapter contract test kit: tests every SMS gateway, e-mail sender and roster source must pass.

Run it against your own plugin once it is installed beside regapp::

    pytest --pyargs regapp.testing --regapp-sms mygateway
    pytest --pyargs regapp.testing --regapp-email mysender --regapp-roster myfeed

Without any ``--regapp-*`` option every installed adapter is tested. The kit
talks to your adapter for real: implement the ``regapp_contract_environment``
hook to give it a peer (a local server, a sandbox account) to talk to.
``--regapp-setting KEY=VALUE`` adds settings your adapter needs.
"""
