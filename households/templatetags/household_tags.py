"""Kept for the templates that load it: `money` is the house's filter (core_tags)."""

from django import template

from core.templatetags.core_tags import money

register = template.Library()
register.filter("money", money)
