"""Outputs of a run: the journal (JSON), the Markdown report with plots."""
