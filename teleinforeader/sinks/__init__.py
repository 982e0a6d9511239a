"""Where frames go: the database writer, the socket server, stdout."""
