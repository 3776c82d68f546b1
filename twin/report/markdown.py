"""Placeholder until the report lands: writes nothing."""


def write_report(journal, target):
    return None
