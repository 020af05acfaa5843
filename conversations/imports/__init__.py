"""Importing conversations from files: Parley's own export and ChatGPT's (docs/export.md).

`reading` turns a file into plain records, refusing it whole with words saying what is wrong;
`services` saves them in one transaction, within the owner's quotas.
"""
