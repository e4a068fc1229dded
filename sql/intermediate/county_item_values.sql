-- The value of every county item's input, in long form (year, county, input, value).
-- Inputs named "school:<measure>" come from county_school_conditions, "county:<measure>" are
-- derived from the county table, the rest are county-table columns (stg_county_inputs, yes/no
-- as 1/0). The counties are those with schools in the school table (county_completeness): a
-- county form alone does not make a county assessed.
with counties as (
    select year, province_code, county_code from county_completeness where year = getvariable('run_year')
),

school_measures as (
    select year, province_code, county_code, 'school:' || measure as input, value
    from county_school_conditions
    unpivot include nulls (value for measure in (
        schools_over_size, schools_over_class_size, schools_short_of_music_art_rooms,
        share_units_meeting_standard_pct
    ))
    where year = getvariable('run_year')
    union all
    select year, province_code, county_code, 'school:schools_quarantined', schools_quarantined::double
    from county_completeness where year = getvariable('run_year')
),

county_measures as (
    select year, province_code, county_code, 'county:teacher_pay_ratio' as input,
           teacher_avg_pay_yuan / nullif(civil_servant_avg_pay_yuan, 0) as value
    from stg_counties where year = getvariable('run_year')
    union all
    select year, province_code, county_code, 'county:years_since_basic_balance',
           (year - basic_balance_year)::double
    from stg_counties where year = getvariable('run_year')
),

all_values as (
    select year, province_code, county_code, input, value from stg_county_inputs
    where year = getvariable('run_year')
    union all
    select * from school_measures
    union all
    select * from county_measures
)

select c.year, c.province_code, c.county_code, v.input, v.value
from counties c
join all_values v using (year, province_code, county_code)
