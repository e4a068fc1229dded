-- county_scorecard: one row per county and year: each part of the assessment, vetoes, the
-- status and what fails.
--   a part is ok when all its items pass, not ok when any fails, null when none fails but
--   some lack data; vetoed when any veto item is set.
--   status quality_balanced: resources, government assurance, quality, recognition and the
--   prerequisite all pass and no veto is set; not_yet: something fails or a veto is set;
--   insufficient_data: nothing fails, but something cannot be judged.
--   A county with quarantined schools is never quality_balanced: its resource part lacks data
--   (item R00; see county_item_verdicts). The completeness counts come from county_completeness.
with items as (
    select * from county_item_verdicts where year = getvariable('run_year')
),

-- per area: false when any item fails, null when none fails but some lack data, else true
area_ok as (
    select
        year, province_code, county_code, area,
        case when bool_or(verdict = 'fail') then false
             when bool_or(verdict = 'insufficient_data') then null
             else true end as ok
    from items
    group by all
),

parts as (
    select
        i.year, i.province_code, i.county_code,
        any_value(i.province) as province, any_value(i.county_name) as county_name,
        any_value(a.ok) filter (where a.area = 'resource') as resource_ok,
        any_value(a.ok) filter (where a.area = 'government') as government_ok,
        any_value(a.ok) filter (where a.area = 'quality') as quality_ok,
        any_value(a.ok) filter (where a.area = 'recognition') as recognition_ok,
        any_value(a.ok) filter (where a.area = 'prerequisite') as prerequisite_ok,
        not any_value(a.ok) filter (where a.area = 'veto') as vetoed,
        list(i.item order by i.item) filter (where i.verdict = 'fail' and i.area <> 'veto') as failing,
        list(i.item order by i.item) filter (where i.verdict = 'fail' and i.area = 'veto') as vetoes,
        list(i.item order by i.item) filter (where i.verdict = 'insufficient_data') as missing
    from items i
    join area_ok a using (year, province_code, county_code, area)
    group by i.year, i.province_code, i.county_code
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
    coalesce(p.missing, []::varchar[]) as insufficient_items,
    c.schools_in_file, c.schools_assessed, c.schools_excluded_by_policy, c.schools_quarantined,
    c.quarantined_schools
from parts p
join county_completeness c using (year, county_code)
left join units u using (year, county_code)
left join worst w using (year, county_code)
