"""Every limit gdhttp enforces, each with the reason it exists.

A hostile or broken server must never make the client buffer without bound,
loop forever or block a frame; these numbers are where that promise is kept.
"""

from __future__ import annotations

from typing import Final

#: Largest response head (status line + fields) we buffer: a server streaming
#: an endless header block must fail fast instead of eating memory.
MAX_HEADER_BLOCK: Final = 64 * 1024

#: Most header fields in one response head: a flood of tiny fields costs CPU
#: and Dictionary size even when the block is small.
MAX_HEADER_FIELDS: Final = 256

#: Most lines in one head or trailer block, obs-fold continuations included:
#: bounds the per-line Python work of parsing one block (fields alone don't).
MAX_HEADER_LINES: Final = 512

#: Empty lines tolerated before a status line (RFC 9112 2.2 asks for "at
#: least one"); an endless CRLF stream must fail, not be skipped forever.
MAX_LEADING_EMPTY_LINES: Final = 8

#: Framing units (chunk lines, chunk terminators, body slices, the trailer
#: block) one take_body() call handles: 1-byte chunks cost per unit, not per
#: body byte, so this is what keeps one call short.
MAX_FRAMING_STEPS: Final = 256

#: Longest chunk-size line, extensions included: the size itself needs at
#: most 16 hex digits, extensions are rare and short.
MAX_CHUNK_LINE: Final = 4 * 1024

#: Largest trailer block after the last chunk (trailers are kept, so bounded).
MAX_TRAILER_BLOCK: Final = 16 * 1024

#: Most 1xx interim responses skipped before the final one: a 1xx flood
#: would otherwise keep the client in STATUS_REQUESTING forever.
MAX_INTERIM_RESPONSES: Final = 32

#: Largest chunk size accepted (2**62): beyond that the hex is garbage, and
#: Python ints would let a server name sizes no file system can hold.
MAX_CHUNK_SIZE: Final = 1 << 62

#: read_chunk_size bounds, as the engine enforces them (256 B .. 16 MiB).
MIN_READ_CHUNK_SIZE: Final = 256
MAX_READ_CHUNK_SIZE: Final = 1 << 24
DEFAULT_READ_CHUNK_SIZE: Final = 65536

#: Bytes read from the socket at once while parsing framing (head, chunk
#: lines); body bytes are read straight into the caller's buffer instead.
FRAMING_READ_SIZE: Final = 64 * 1024

#: Time one poll() may spend writing the request body before it yields back
#: to the frame: uploads never hitch a frame by more than this.
POLL_SEND_BUDGET_S: Final = 0.0005

#: Most bytes handed to one send() call: the kernel copies a whole large
#: buffer in one go, which alone could outlast the poll budget above.
MAX_SEND_SIZE: Final = 128 * 1024

#: Block size pulled from a streamed upload source per read.
UPLOAD_BLOCK_SIZE: Final = 256 * 1024

#: Default TCP connect timeout (the engine's project setting default is 30 s).
DEFAULT_CONNECT_TIMEOUT_S: Final = 30.0

#: Default time a server may stay silent while we wait for its response head
#: or body; without it a silent server would keep a poll loop alive forever.
#: 0 disables it (long polls, event streams).
DEFAULT_READ_TIMEOUT_S: Final = 30.0

#: Longest a host name may be (RFC 1035 total length); longer is an error.
MAX_HOST_LENGTH: Final = 253

#: Shortest host connect_to_host accepts, as the engine (HOST_MIN_LEN = 4).
MIN_HOST_LENGTH: Final = 4

#: Longest request target accepted: servers commonly stop at 8 KiB; a larger
#: one is almost certainly a bug in the caller.
MAX_URL_LENGTH: Final = 64 * 1024

#: Read-ahead per plain TCP connection: a small body read (a script's 64 KiB
#: chunk) becomes one syscall of this size and then several memory copies.
READAHEAD_SIZE: Final = 1 << 20

#: Reads at least this large go straight into the caller's buffer: the
#: syscall is already amortised, a copy would only cost.
DIRECT_READ_MIN: Final = 256 * 1024

#: CA bundles, CRLs and client certificates are read whole; the system's own
#: CA bundle is ~200 KiB, so 16 MiB only stops a wrong path (a video, /dev/zero).
MAX_PEM_FILE: Final = 16 * 1024 * 1024


# ---- HTTP/2 (h2conn.py)

#: Per-stream receive window we advertise: a stream buffers at most this much
#: unread body; large enough that one stream fills a fast link (measured: bench/h2.py).
H2_STREAM_WINDOW: Final = 4 * 1024 * 1024

#: Connection receive window: all streams together buffer at most this much.
H2_CONNECTION_WINDOW: Final = 16 * 1024 * 1024

#: Largest decoded response header list (SETTINGS_MAX_HEADER_LIST_SIZE): the
#: same 64 KiB as an HTTP/1.1 head; an HPACK bomb stops decoding here.
H2_MAX_HEADER_LIST: Final = 64 * 1024

#: HPACK dynamic table we let the server use (the RFC 7541 default).
H2_HEADER_TABLE_SIZE: Final = 4096

#: Streams we open at once before the server's SETTINGS say how many it takes.
H2_ASSUMED_MAX_STREAMS: Final = 100

#: Most streams we open on one connection at once, whatever the server allows.
H2_MAX_STREAMS: Final = 256

#: Control frames (PING, SETTINGS, resets of unknown streams, unknown frames)
#: accepted per H2_FLOOD_WINDOW_S; more is a flood (each one costs a reply).
H2_MAX_CONTROL_FRAMES: Final = 512
H2_FLOOD_WINDOW_S: Final = 1.0

#: First and largest slice of received bytes handed to h2 at once: a slice of
#: 9-byte frames costs per frame, so slices start small and grow while fast.
H2_FEED_MIN: Final = 1024
H2_FEED_MAX: Final = 64 * 1024

#: Most frames handed to h2 in one call: a slice of 9-byte PINGs would otherwise
#: be thousands of frames in one go, however small the slice has become.
H2_MAX_FRAMES_PER_FEED: Final = 32

#: A feed slower than this halves the next slice (see H2_FEED_MIN).
H2_FEED_SLOW_S: Final = 0.0004

#: Most bytes waiting to be written on one connection before we stop reading:
#: a peer that never reads our PING acks must not grow our memory.
H2_MAX_OUTBOX: Final = 1024 * 1024

#: A connection whose last pump found nothing to read or write is not pumped
#: again for this long (unless a request must go out): its other streams' polls
#: in the same frame would only repeat the empty syscalls.
H2_IDLE_PUMP_INTERVAL_S: Final = 0.0002

#: Upload bytes queued into h2 per stream and pump: keeps streams fair.
H2_UPLOAD_SLICE: Final = 64 * 1024

#: How many times a request refused unprocessed (GOAWAY above its stream,
#: REFUSED_STREAM) is sent again on another connection.
H2_MAX_RETRIES: Final = 2


# ---- HTTPRequest (request.py, attempt.py)

#: Longest one HTTPRequest.process() step keeps reading or stepping the client:
#: 2 ms is an eighth of a 60 fps frame.
STEP_TIME_BUDGET_S: Final = 0.002

#: Most client status changes handled in one step (connect, send, head, body
#: in one frame when the network is fast), so a step can never loop.
MAX_TRANSITIONS_PER_STEP: Final = 16

#: Smallest body slice asked of the client per read: with 1-byte chunks each
#: body byte costs a framing line, so a slow read halves the slice down to this.
MIN_READ_SLICE: Final = 64

#: A body read slower than this halves the next slice; one twice as fast that
#: filled its slice doubles it (up to download_chunk_size), so fast links stay fast.
READ_SLICE_SLOW_S: Final = 0.0005

#: Largest in-memory body reserved up front from its Content-Length (then read
#: in place): a Content-Length is only a claim, and zeroing a larger buffer at
#: once (64 MiB: about 60 ms) would outlast the step budget by itself.
MAX_PREALLOCATED_BODY: Final = 1024 * 1024

#: With no body_size_limit, a decoded body may outgrow its compressed size by
#: at most this factor (ordinary content stays far below; a zlib bomb reaches 1032).
MAX_DECODE_RATIO: Final = 200

#: ...once it is larger than this: small, highly repetitive bodies are fine.
DECODE_RATIO_MIN_OUTPUT: Final = 16 * 1024 * 1024

#: Largest error body (a 404 or 503 answering a resumed download) held in
#: memory: it must not replace the partial file, and must not grow without bound.
MAX_RESUME_ERROR_BODY: Final = 1024 * 1024

#: How long the worker thread (use_threads) waits for the socket when a step
#: made no progress: bounds cancel_request() latency and idle CPU use.
THREAD_IDLE_WAIT_S: Final = 0.005


# ---- HTTPClient (client.py, connection.py)

#: Time one client call (poll, a body read) may spend parsing and reading before
#: it returns: the 5 ms frame promise with room for the caller's own work.
POLL_TIME_BUDGET_S: Final = 0.002

#: Wire bytes one client call takes off the socket for framed parsing (heads,
#: chunk lines): a flood of tiny units costs per byte, so bytes bound it too.
POLL_WIRE_BUDGET: Final = 256 * 1024

#: Empty blocks pulled from an upload iterator in one poll before yielding
#: back to the frame: an iterator of endless b"" must not spin one call.
MAX_EMPTY_UPLOAD_BLOCKS: Final = 64

#: Keep-alive connections a session keeps open (active + idle) per origin:
#: browsers use 6; more would look like a flood to the server.
DEFAULT_POOL_PER_ORIGIN: Final = 6

#: Connections a session keeps open over all origins: bounds file descriptors.
DEFAULT_POOL_TOTAL: Final = 64

#: Seconds an idle pooled connection is kept: servers close theirs after 5 to
#: 75 s (nginx: 75), and a connection the server already closed costs a retry.
DEFAULT_POOL_IDLE_S: Final = 30.0

#: Highest per-origin and total pool limits a script may set: beyond that a
#: typo opens a socket flood.
MAX_POOL_CONNECTIONS: Final = 1024


# ---- Streaming bodies and server-sent events (request.py, sse.py, eventsource.py)

#: Streamed body bytes waiting in the outbox before the use_threads worker stops
#: reading: the main thread drains them each frame, a stalled one must not grow memory.
MAX_STREAM_BACKLOG: Final = 1024 * 1024

#: Streamed body bytes merged into one body_chunk_received: a 1-byte-per-packet
#: stream must not cost one signal per byte.
STREAM_CHUNK_MERGE: Final = 64 * 1024

#: Longest event-stream line in characters: far above any real event, and an
#: endless line must end the connection instead of growing memory.
MAX_SSE_LINE: Final = 1024 * 1024

#: Largest data of one event in characters (all its data: lines together).
MAX_SSE_EVENT: Final = 4 * 1024 * 1024

#: Pushed bytes the SSE parser decodes at a time: a 3 MB read in one frame is
#: decoded and scanned in steps, between which the caller's time budget is checked.
SSE_DECODE_STEP: Final = 64 * 1024


#: Time after the start of an EventSource poll (its request step included) when
#: it stops dispatching events: a million tiny events spread over frames.
SSE_POLL_BUDGET_S: Final = 0.0035

#: Most events dispatched by one EventSource poll, whatever the clock says.
MAX_SSE_EVENTS_PER_POLL: Final = 4096

#: Default reconnection delay (the spec leaves it to the user agent; browsers use 3 s).
DEFAULT_SSE_RETRY_MS: Final = 3000

#: Largest retry: a server can ask for at most this delay (one hour).
MAX_SSE_RETRY_MS: Final = 3600 * 1000

#: Huffman-coded HPACK strings remembered decoded (and the longest one kept):
#: a burst's responses repeat the same date, type and etag strings, and hpack's
#: pure-Python decoder was a sixth of the CPU per response (bench/h2.py).
H2_HUFFMAN_CACHE: Final = 256
H2_HUFFMAN_CACHE_MAX_LEN: Final = 128
