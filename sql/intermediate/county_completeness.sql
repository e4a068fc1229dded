-- How complete the data behind each county's verdict is (数据完整性), per county and year:
--   schools_in_file             rows of the county in the school table: staged + quarantined
--   schools_assessed            staged schools that are, or are merged into, an assessment unit
--   schools_excluded_by_policy  staged schools a rule leaves out (special education, 民办 switch,
--                               teaching points under the cut; see unit_exclusions)
--   schools_quarantined         rows set aside by staging; a county with any cannot pass
-- A quarantined row whose county code could not be read counts against every county of its
-- sheet (it could be any of them); one whose year could not be read, against every year.
-- These are also the counties assessed: a county with no school in the school table (only a
-- county form) is not.
with staged as (
    select year, province_code, county_code, school_id, source_file, source_sheet
    from stg_schools where year = getvariable('run_year')
),

sheets as (
    select distinct province_code, county_code, source_file, source_sheet from staged
),

held as (
    select q.province_code, q.county_code, q.school_id, q.school_name, q.school_type, q.source_file,
           q.source_sheet, q.source_row
    from quarantined_schools q
    where q.county_code is not null and coalesce(q.year, getvariable('run_year')) = getvariable('run_year')
    union all
    select s.province_code, s.county_code, q.school_id, q.school_name, q.school_type, q.source_file,
           q.source_sheet, q.source_row
    from quarantined_schools q
    join sheets s on s.source_file = q.source_file and s.source_sheet is not distinct from q.source_sheet
    where q.county_code is null and coalesce(q.year, getvariable('run_year')) = getvariable('run_year')
),

staged_n as (
    select province_code, county_code, count(*) as n from staged group by all
),

held_n as (
    select province_code, county_code, count(*) as n,
           list(coalesce(school_name, '') || '（' || coalesce(school_id, '?') || '）'
                order by source_file, source_sheet, source_row) as names
    from held group by all
),

excluded_n as (
    select county_code, count(*) as n from unit_exclusions
    where year = getvariable('run_year') and reason <> 'merged_into_parent'
    group by all
),

held_per_level as (
    -- a held row counts at every level its school type teaches (at both when the type is unknown)
    select h.county_code,
           count(*) filter (where h.school_type is null or p.level is not null) as primary_n,
           count(*) filter (where h.school_type is null or j.level is not null) as junior_n
    from held h
    left join dim_school_type_levels p on p.school_type = h.school_type and p.level = 'primary'
    left join dim_school_type_levels j on j.school_type = h.school_type and j.level = 'junior'
    group by all
)

select
    getvariable('run_year')::int as year,
    coalesce(s.province_code, h.province_code) as province_code,
    coalesce(s.county_code, h.county_code) as county_code,
    (coalesce(s.n, 0) + coalesce(h.n, 0))::int as schools_in_file,
    (coalesce(s.n, 0) - coalesce(e.n, 0))::int as schools_assessed,
    coalesce(e.n, 0)::int as schools_excluded_by_policy,
    coalesce(h.n, 0)::int as schools_quarantined,
    coalesce(l.primary_n, 0)::int as units_quarantined_primary,
    coalesce(l.junior_n, 0)::int as units_quarantined_junior,
    coalesce(h.names, []::varchar[]) as quarantined_schools
from staged_n s
full join held_n h using (county_code)
left join excluded_n e on e.county_code = coalesce(s.county_code, h.county_code)
left join held_per_level l on l.county_code = coalesce(s.county_code, h.county_code)
