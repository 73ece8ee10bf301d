from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo county (`manage.py seed_demo`): one module per domain, mixed into the command.
    It sits above every other app and imports them all; nothing imports it."""

    name = "demo"
