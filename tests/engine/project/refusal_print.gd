extends SceneTree
# A refused call prints the reason through the engine's error output, like ERR_FAIL.
func _initialize():
	var c = PyHTTPClient.new()
	c.set_read_chunk_size(10)
	print("RESULT chunk=", c.get_read_chunk_size())
	quit(0)
