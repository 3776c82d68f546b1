"""`plcsim serve`: the command a user runs, with a real Modbus client and mbpoll against it."""

import os
import shutil
import subprocess
import sys
import time

from pymodbus.client import ModbusTcpClient


def test_serve_blink_over_modbus_and_opcua():
    proc = subprocess.Popen([sys.executable, "-m", "plcsim.cli", "serve", "examples/blink.st", "--modbus",
                             "127.0.0.1:0", "--opcua", "opc.tcp://127.0.0.1:0", "--cycle", "10ms", "--duration", "12s"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        deadline = time.time() + 20
        while time.time() < deadline and not any(line.startswith("blink:") for line in lines):
            lines.append(proc.stdout.readline().strip())
        modbus = next(line for line in lines if line.startswith("modbus"))
        port = int(modbus.rsplit(":", 1)[1])
        assert any(line.startswith("opcua   opc.tcp://127.0.0.1:") for line in lines)
        client = ModbusTcpClient("127.0.0.1", port=port)
        assert client.connect()
        try:
            first = client.read_holding_registers(0, count=1).registers[0]  # count AT %QW0
            time.sleep(1.2)                                                 # the lamp toggles every ~0.5 s
            second = client.read_holding_registers(0, count=1).registers[0]
            assert second > first
            period = client.read_holding_registers(1024, count=1).registers[0]  # period AT %MW0
            assert period == 500
        finally:
            client.close()
        if shutil.which("mbpoll") or os.environ.get("CI"):
            out = subprocess.run(["mbpoll", "-m", "tcp", "-p", str(port), "-a", "1", "-0", "-t", "4", "-r", "1024",
                                  "-c", "1", "-1", "127.0.0.1"], capture_output=True, text=True, timeout=10).stdout
            assert "[1024]: \t500" in out
    finally:
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped after" in out and "Traceback" not in err


def test_serve_reports_a_compile_error_without_traceback(tmp_path):
    bad = tmp_path / "bad.st"
    bad.write_text("PROGRAM P\nVAR x : INT; END_VAR\nx := y;\nEND_PROGRAM\n")
    r = subprocess.run([sys.executable, "-m", "plcsim.cli", "serve", str(bad)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 1 and f"{bad}:3:6: undeclared variable y" in r.stderr and "Traceback" not in r.stderr
