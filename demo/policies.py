"""The demo county's policy profile."""

from __future__ import annotations

import datetime

from policies.models import PolicyProfile
from policies.services import profile_create

PROFILE_NAME = "示范县扶贫小额信贷政策（2015年起）"
PROFILE_SOURCE = (
    "《桂林市临桂区扶贫小额信贷实施细则》第二条：5万元（含）以下、3年期（含）以内、免担保免抵押、"
    "按人民银行基准利率放贷、财政全额贴息；第十条：银行自主评级授信；第十二条：村、乡（镇）、区三级公示"
    "5个工作日；第二十一条：借款人死亡贷款到期3个月仍无法收回的启动风险补偿；第二十二条：恶意逃债列入"
    "黑名单；第三十九条：风险补偿金管理委员会。\n"
    "《XX区扶贫小额信贷工作实施方案》三（一）1：18周岁（含）至65周岁（含）；三（二）2：期限1至3年，"
    "续贷不超过3年且只能一次，1年期贷款展期不超过1年，1年以上贷款展期不超过原期限一半；"
    "三（二）4：区财政全额贴息3年（含）。"
)


class SeedPolicies:
    """The policy profile; mixed into the `seed_demo` command."""

    # Policy profile -----------------------------------------------------------------------

    def profile(self, county, admin) -> PolicyProfile:
        existing = PolicyProfile.objects.filter(
            county=county, effective_from=datetime.date(2015, 1, 1)
        ).first()
        if existing:
            return existing
        # Every number keeps the model's default, which follows the two texts cited in source_text.
        return profile_create(
            acting_user=admin,
            county=county,
            name=PROFILE_NAME,
            effective_from=datetime.date(2015, 1, 1),
            source_text=PROFILE_SOURCE,
        )
