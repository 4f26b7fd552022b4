"""wsgi.file_wrapper for the WSGI gateway (csrc/wsgi), defined once in every interpreter. Embedded in
the native core at build time (scripts/embed-python.cjs).
"""


class FileWrapper:
    """wsgi.file_wrapper: for a real file, the host streams it from the descriptor."""

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, 'close'):
            self.close = filelike.close

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration
