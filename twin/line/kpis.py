"""KPIs per ISO 22400-2 from the raw time elements and counts after warm-up.

The line is measured at its constraint (the kpi station, the filler): its
time elements give availability and effectiveness; quantities for quality
and throughput are counted at the end of the line.

- PBT  planned busy time: the measured window (run length minus warm-up)
- APT  actual production time: EXECUTE time plus micro-stops (micro-stops
       are a performance loss, as common OEE practice counts them)
- ADET actual unit down time: breakdowns (HELD)
- starved, blocked, stopped-by-PLC: not down time of the unit itself. The
  headline availability counts them as a loss (APT/PBT); the report also
  gives availability with them excluded (APT/(PBT - starved - blocked)).
- PQ   produced quantity; GQ good quantity; SQ scrap quantity (rejected)
- availability = APT/PBT; effectiveness = PRU*PQ/APT; quality = GQ/PQ;
  OEE = product; scrap ratio = SQ/PQ; throughput = PQ/AOET (AOET = PBT)
- MTBF = sum(TBF)/FE with TBF the operating time (APT) between failures;
  MTTR = sum(TTR)/FE; FE the number of breakdowns.
"""

from __future__ import annotations

from typing import Any

from ..model import Line as LineSpec

MS_PER_H = 3_600_000.0


def _diff(a: dict, b: dict) -> dict:
    return {k: b[k] - a[k] for k in b}


def time_elements(start: dict, end: dict) -> dict[str, dict[str, float]]:
    out = {}
    for name, els in end["states"].items():
        d = _diff(start["states"][name], els)
        b0, r0, m0 = start["failures"][name]
        b1, r1, m1 = end["failures"][name]
        d.update(breakdowns=b1 - b0, repair_ms=r1 - r0, microstops=m1 - m0)
        out[name] = {k: round(v, 3) for k, v in d.items()}
    return out


def compute(spec: LineSpec, start: dict, end: dict) -> dict[str, Any]:
    pbt = end["t_ms"] - start["t_ms"]
    te = time_elements(start, end)
    counts = _diff(start["counts"], end["counts"])
    ref = te[spec.kpi_station]
    apt = ref["execute"] + ref["held_microstop"]
    pru = 60_000.0 / spec.ideal_rate
    pq_unit = counts["produced"]
    pq_line = counts["packed"] + counts["rejected"]
    gq = counts["packed_good"]
    sq = counts["rejected"]
    fe = ref["breakdowns"]

    def ratio(a: float, b: float) -> float:
        return a / b if b > 0 else 0.0

    availability = ratio(apt, pbt)
    effectiveness = ratio(pru * pq_unit, apt)
    quality = ratio(gq, pq_line)
    kpis = {
        "availability": availability,
        "availability_excl_starved_blocked": ratio(apt, pbt - ref["starved"] - ref["blocked"]),
        "effectiveness": effectiveness,
        "quality": quality,
        "oee": availability * effectiveness * quality,
        "scrap_ratio": ratio(sq, pq_line),
        "throughput_per_h": ratio(pq_line, pbt / MS_PER_H),
        "good_per_h": ratio(gq, pbt / MS_PER_H),
        "mtbf_h": ratio(apt, fe) / MS_PER_H if fe else None,
        "mttr_min": ratio(ref["repair_ms"], fe) / 60_000.0 if fe else None,
    }
    raw = {"PBT_ms": pbt, "APT_ms": apt, "ADET_ms": ref["held_breakdown"], "starved_ms": ref["starved"],
           "blocked_ms": ref["blocked"], "stopped_ms": ref["stopped"], "microstop_ms": ref["held_microstop"],
           "PRU_ms": pru, "PQ_unit": pq_unit, "PQ": pq_line, "GQ": gq, "SQ": sq, "FE": fe,
           "TTR_ms": ref["repair_ms"], **{k: v for k, v in counts.items()}}
    return {"kpis": {k: (round(v, 6) if isinstance(v, float) else v) for k, v in kpis.items()},
            "raw": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in raw.items()},
            "time_elements": te}
