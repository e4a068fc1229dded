-- county_scorecard: one row per county and year: each part of the assessment, vetoes, the
-- status and what fails.
--   a part is ok when all its items pass, not ok when any fails, null when none fails but
--   some lack data; vetoed when any veto item is set.
--   status quality_balanced: resources, government assurance, quality, recognition and the
--   prerequisite all pass and no veto is set; not_yet: something fails or a veto is set;
--   insufficient_data: nothing fails, but something cannot be judged.
with items as (
    select * from county_item_verdicts where year = getvariable('run_year')
),

parts as (
    select
        year, province_code, county_code,
        any_value(province) as province, any_value(county_name) as county_name,
        case when bool_or(area = 'resource' and verdict = 'fail') then false
             when bool_or(area = 'resource' and verdict = 'insufficient_data') then null
             else true end as resource_ok,
        case when bool_or(area = 'government' and verdict = 'fail') then false
             when bool_or(area = 'government' and verdict = 'insufficient_data') then null
             else true end as government_ok,
        case when bool_or(area = 'quality' and verdict = 'fail') then false
             when bool_or(area = 'quality' and verdict = 'insufficient_data') then null
             else true end as quality_ok,
        case when bool_or(area = 'recognition' and verdict = 'fail') then false
             when bool_or(area = 'recognition' and verdict = 'insufficient_data') then null
             else true end as recognition_ok,
        case when bool_or(area = 'prerequisite' and verdict = 'fail') then false
             when bool_or(area = 'prerequisite' and verdict = 'insufficient_data') then null
             else true end as prerequisite_ok,
        case when bool_or(area = 'veto' and verdict = 'fail') then true
             when bool_or(area = 'veto' and verdict = 'insufficient_data') then null
             else false end as vetoed,
        list(item order by item) filter (where verdict = 'fail' and area <> 'veto') as failing,
        list(item order by item) filter (where verdict = 'fail' and area = 'veto') as vetoes,
        list(item order by item) filter (where verdict = 'insufficient_data') as missing
    from items
    group by year, province_code, county_code
),

units as (
    select
        year, county_code,
        count(*) filter (where level = 'primary') as units_primary,
        count(*) filter (where level = 'junior') as units_junior,
        avg(meets_school_standard::int) as units_meeting_standard_share
    from school_indicators where year = getvariable('run_year')
    group by all
),

worst as (
    select year, county_code,
           max(cv) filter (where level = 'primary') as worst_cv_primary,
           max(cv) filter (where level = 'junior') as worst_cv_junior
    from county_cv where year = getvariable('run_year')
    group by all
)

select
    p.year, p.province, p.province_code, p.county_code, p.county_name,
    p.resource_ok, p.government_ok, p.quality_ok, p.recognition_ok, p.prerequisite_ok,
    p.vetoed,
    case
        when coalesce(p.vetoed, false)
          or coalesce(not p.resource_ok, false) or coalesce(not p.government_ok, false)
          or coalesce(not p.quality_ok, false) or coalesce(not p.recognition_ok, false)
          or coalesce(not p.prerequisite_ok, false)
            then 'not_yet'
        when p.vetoed is null
          or p.resource_ok is null or p.government_ok is null or p.quality_ok is null
          or p.recognition_ok is null or p.prerequisite_ok is null
            then 'insufficient_data'
        else 'quality_balanced'
    end as status,
    coalesce(u.units_primary, 0)::int as units_primary,
    coalesce(u.units_junior, 0)::int as units_junior,
    u.units_meeting_standard_share,
    w.worst_cv_primary, w.worst_cv_junior,
    coalesce(list_concat(p.vetoes, p.failing), []::varchar[]) as failing_items,
    coalesce(p.missing, []::varchar[]) as insufficient_items
from parts p
left join units u using (year, county_code)
left join worst w using (year, county_code)
