# The common API-client pattern, with gdhttp as the base instead of HTTPRequest.
extends PyHTTPRequestNode

var completed = []
var progress = 0

func _ready():
	connect("request_completed", self, "_on_done")
	connect("download_progress", self, "_on_progress")

func fetch(url):
	timeout = 10
	return request(url, ["Accept: application/octet-stream"])

func _on_done(result, code, headers, body):
	completed.append([result, code, body.size()])

func _on_progress(downloaded, total):
	progress = downloaded
