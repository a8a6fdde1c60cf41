"""The one error a squadron sees when rr will not keep its mission."""


class MizRejected(Exception):
    """`str()` is one plain sentence: what is wrong with the file and what to do."""
