"""The isolated parse workers: a pool of forkserver processes (`pool.py`) that run the parsers and the thumbnail
renderer (`worker.py`) under memory and time limits, so a hostile file can only kill a worker. It sits above
`features.parsers` and `features.thumbnails` (it runs both); neither imports it."""
