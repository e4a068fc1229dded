-- Every item of the assessment for every county and year, with its value, the
-- threshold, the rule that set it (national or a province's override) and the verdict:
-- pass | fail | insufficient_data. A missing input is insufficient_data, never a pass.
-- Resource items are complete data (R00), the school rule (R01) and the 14 variation
-- coefficients (R_cv_*). With quarantined schools a county's data are incomplete: R00 is
-- insufficient_data, and so is every CV of a level that lost units (the missing schools could
-- move it either way); R01 still fails when an assessed unit fails (that cannot be undone).
with counties as (
    select distinct year, province_code, county_code from county_item_values
    where year = getvariable('run_year')
),

names as (
    select county_code, any_value(province) as province, any_value(county_name) as county_name
    from (
        select county_code, province, county_name from stg_schools where year = getvariable('run_year')
        union all
        select county_code, province, county_name from stg_counties where year = getvariable('run_year')
        union all
        select q.county_code, d.province_name, q.county_name
        from quarantined_schools q join dim_provinces d using (province_code)
    )
    group by county_code
),

listed as (
    select
        c.year, c.province_code, c.county_code, i.item, i.area, i.item_name, i.op, i.threshold, i.unit,
        i.rule, v.value, p.relative_tolerance as tol
    from counties c
    join policy_items i on i.province_code = c.province_code
    join policy_province p on p.province_code = c.province_code
    left join county_item_values v
        on v.year = c.year and v.county_code = c.county_code and v.input = i.input
),

judged as (
    select
        year, province_code, county_code, item, area, item_name, op, threshold, unit, rule, value,
        case
            when value is null then 'insufficient_data'
            when op = '>=' and value >= threshold * (1 - tol) then 'pass'
            when op = '<=' and value <= threshold * (1 + tol) then 'pass'
            when op = '<' and value < threshold then 'pass'
            when op = 'yes' and value = 1 then 'pass'
            when op = 'no' and value = 0 then 'pass'
            when op = 'complete' and value = 0 then 'pass'
            when op = 'complete' then 'insufficient_data'
            else 'fail'
        end as verdict
    from listed
),

cv_items as (
    select
        year, province_code, county_code,
        'R_cv_' || level || '_' || indicator as item,
        'resource' as area,
        '差异系数：' || case level when 'primary' then '小学' else '初中' end || indicator_name as item_name,
        '<=' as op, cv_threshold as threshold, null as unit, threshold_rule as rule, cv as value,
        case when units_quarantined > 0 then 'insufficient_data'
             when cv_meets then 'pass' when not cv_meets then 'fail' else 'insufficient_data' end as verdict
    from county_cv
    where year = getvariable('run_year')
)

select
    j.year, n.province, j.province_code, j.county_code, n.county_name, j.area, j.item, j.item_name,
    j.value, j.op, j.threshold, j.unit, j.rule, j.verdict
from (select * from judged union all select * from cv_items) j
join names n using (county_code)
