-- province_progress: per province and year, the share of counties at 优质均衡 against the next
-- milestone for share of counties (the province's own plan, else the national target).
--   on_track: the share projected to the milestone year at the province's current pace (least
--   squares over the years present up to that year) reaches the target; with one year only, the
--   share already does. A target read from 绝大多数 is flagged target_is_assumption.
-- A roll-up over all years at once, so a year's pace never depends on which year ran first.
with by_year as (
    select
        year, province_code, any_value(province) as province,
        count(*) as counties,
        count(*) filter (where status = 'quality_balanced') as counties_quality_balanced,
        count(*) filter (where status = 'insufficient_data') as counties_insufficient_data,
        count(*) filter (where status = 'quality_balanced') / count(*) as share_quality_balanced
    from county_scorecard
    group by all
),

paced as (
    select
        b.*,
        case when count(*) over history >= 2
             then regr_slope(b.share_quality_balanced, b.year) over history end as share_per_year
    from by_year b
    window history as (partition by b.province_code order by b.year
                       rows between unbounded preceding and current row)
),

candidates as (
    select b.year, b.province_code, m.year as milestone_year, m.target_share, m.text, m.source,
           m.target_is_assumption, m.jurisdiction,
           row_number() over (
               partition by b.province_code, b.year
               order by (m.jurisdiction = 'national'), m.year
           ) as rank
    from by_year b
    join policy_milestones m
        on m.kind = 'share_of_counties' and m.year >= b.year
        and (m.jurisdiction = b.province_code or m.jurisdiction = 'national')
)

select
    b.year, b.province, b.province_code, b.counties::int as counties,
    b.counties_quality_balanced::int as counties_quality_balanced,
    b.counties_insufficient_data::int as counties_insufficient_data,
    b.share_quality_balanced,
    c.milestone_year::int as next_milestone_year,
    c.target_share as next_milestone_target_share,
    c.text as next_milestone_text,
    c.jurisdiction as next_milestone_jurisdiction,
    c.target_is_assumption,
    b.share_per_year,
    greatest(0.0, least(1.0, b.share_quality_balanced + coalesce(b.share_per_year, 0) * (c.milestone_year - b.year)))
        as projected_share_at_milestone,
    case when c.target_share is null then null
         else greatest(0.0, least(1.0, b.share_quality_balanced + coalesce(b.share_per_year, 0) * (c.milestone_year - b.year)))
              >= c.target_share
    end as on_track
from paced b
left join candidates c on c.province_code = b.province_code and c.year = b.year and c.rank = 1
