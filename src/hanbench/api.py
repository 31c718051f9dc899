"""The scripting API: everything a bench script or test imports, in one place.

``from hanbench import open_bench`` is the usual spelling (the package re-exports these names
lazily, so ``import hanbench`` stays light); this module is the list of what is public.
"""

from __future__ import annotations

from hanbench.bench.bench import Bench, BenchDevice, DeviceRef, VirtualTimeRequired, open_bench
from hanbench.bench.bench_config import BenchConfig, BenchKind, NotOnBench
from hanbench.bench.bench_file import load_bench
from hanbench.bench.config_reader import BenchConfigError
from hanbench.bench.campaign_view import campaign_view
from hanbench.bench.estate import DeviceSet, Estate, EstateDevice, EstatePremises, open_estate
from hanbench.bench.estate_plan import EstatePlan, plan_estate
from hanbench.bench.events import Event, EventStream, EventTimeout
from hanbench.bench.premises import DeviceState, NotOnEmulator
from hanbench.bench.users import BenchUser, PacedUser, UserAlert
from hanbench.clock import run_virtual
from hanbench.dcc.automation import Action as AutomationAction
from hanbench.dcc.automation import AutomationOutcome
from hanbench.dcc.automation import Branch as AutomationBranch
from hanbench.dcc.bulk import SetResult, Throttle
from hanbench.dcc.campaign import Campaign, CampaignPlan, CampaignRefused, Decision, HaltCriteria, HaltReport, \
    Notice, PilotSelection
from hanbench.dcc.campaign import Stage as CampaignStage
from hanbench.dcc.ch_firmware import ChOutcome, ChUpdate
from hanbench.dcc.errors import InboxTimeout
from hanbench.dcc.service_requests import Outcome, RequestResult, TargetResult
from hanbench.gbcs.roles import RefusalRule

__all__ = [
    "AutomationAction", "AutomationBranch", "AutomationOutcome",
    "Bench", "BenchConfig", "Campaign", "CampaignPlan", "CampaignRefused", "CampaignStage", "ChOutcome", "ChUpdate",
    "Decision", "HaltCriteria", "HaltReport", "Notice", "PilotSelection", "BenchConfigError", "BenchDevice", "BenchKind", "BenchUser", "DeviceRef", "DeviceSet",
    "DeviceState", "Estate", "EstateDevice", "EstatePlan", "EstatePremises", "Event", "EventStream", "EventTimeout",
    "InboxTimeout", "NotOnBench", "NotOnEmulator", "Outcome", "PacedUser", "RefusalRule", "RequestResult",
    "SetResult", "TargetResult", "Throttle", "UserAlert", "VirtualTimeRequired",
    "campaign_view", "load_bench", "open_bench", "open_estate", "plan_estate", "run_virtual",
]
