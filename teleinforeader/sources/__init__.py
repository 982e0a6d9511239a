"""Where bytes come from: a serial port, a recorded capture, a simulated meter."""
