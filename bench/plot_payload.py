"""Draws bench/payload.py's curve: requests/s against floats per request, one panel per protocol.

    bench/.venvs/plot/bin/python bench/plot_payload.py RESULTS.json OUT.png

Run by bench/payload.py with the bench's own matplotlib venv (not modelserve's dependencies).
Log-log axes; modelserve's lines solid, the peers' dashed, the ceiling of the panel's transport dotted.
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ORDER = ["seldon-rest", "v2-rest", "v2-rest-binary", "v1-rest", "merlin-http", "seldon-grpc", "v2-grpc", "v2-grpc-raw",
         "merlin-upi"]
TITLES = {"seldon-rest": "Seldon REST (ndarray)", "v2-rest": "V2 REST (JSON)", "v2-rest-binary": "V2 REST (binary)",
          "v1-rest": "KServe V1 REST", "merlin-http": "Merlin HTTP_JSON", "seldon-grpc": "Seldon gRPC (tensor)",
          "v2-grpc": "V2 gRPC", "v2-grpc-raw": "V2 gRPC (raw contents)", "merlin-upi": "Merlin UPI_V1 gRPC"}
GRPC = {"seldon-grpc", "v2-grpc", "v2-grpc-raw", "merlin-upi"}


def main() -> None:
    with open(sys.argv[1]) as file:
        data = json.load(file)
    points = [p for p in data["points"] if p["rps"]]
    protocols = [p for p in ORDER if any(q["protocol"] == p and not q["ceiling"] for q in points)]
    servers = sorted({p["server"] for p in points if not p["ceiling"]},
                     key=lambda name: (not name.startswith("modelserve"), name))
    colours = {s: plt.get_cmap("tab10")(i % 10) for i, s in enumerate(servers)}
    columns = 3
    rows = max(1, -(-len(protocols) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.8 * rows), squeeze=False)
    for ax, protocol in zip(axes.flat, protocols, strict=False):
        ceiling_protocol = "seldon-grpc" if protocol in GRPC else "seldon-rest"
        lines = {}
        for p in points:
            if p["ceiling"] and p["protocol"] == ceiling_protocol:
                lines.setdefault(("ceiling: " + p["server"].removeprefix("ceiling: "), ":", "grey"), []).append(p)
            elif not p["ceiling"] and p["protocol"] == protocol:
                lines.setdefault((p["server"], "-" if p["ours"] else "--", colours[p["server"]]), []).append(p)
        for (label, style, colour), series in sorted(lines.items(), key=lambda kv: (kv[0][1] != "-", kv[0][0])):
            series.sort(key=lambda p: p["floats"])
            ax.plot([p["floats"] for p in series], [p["rps"] for p in series], style, marker="o", markersize=3,
                    label=label, color=colour, linewidth=2 if style == "-" else 1.2)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(TITLES.get(protocol, protocol), fontsize=10)
        ax.set_xlabel("floats per request")
        ax.set_ylabel("requests/s")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6.5)
    for ax in list(axes.flat)[len(protocols):]:
        ax.set_visible(False)
    figure.suptitle(f"Requests/s against payload size, 1 worker, 16 connections ({data['date']})", fontsize=12)
    figure.tight_layout()
    figure.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
