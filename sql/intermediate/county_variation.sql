-- The inter-school variation coefficient (差异系数) of every county, level, method and
-- indicator. This is the only place the CV formula is written; county_cv (优质均衡) and
-- county_basic_balance (基本均衡) both read it.
--
-- Enrolment-weighted, population form (教督〔2017〕6号; published worked example):
--     P_i = students of unit i,  P = Σ P_i
--     X̄  = Σ P_i·x_i / P          (= Σ resource / Σ students, the county aggregate ratio,
--                                   not the mean of the school ratios)
--     S  = sqrt( Σ (P_i/P)·(x_i − X̄)² )
--     CV = S / X̄
-- One unit: CV = 0. X̄ = 0: CV undefined (null, with the reason), never a division error.
-- Units whose value is undefined (a missing input) are left out and not counted in `units`.
with v as (
    select * from unit_indicator_values
    where year = getvariable('run_year') and value is not null
),

county as (
    select
        year, province_code, county_code, level, method, indicator,
        sum(students) as students,
        count(*) as units,
        -- exact sums (fixed-point decimals, 12 places): floating-point addition is not
        -- associative, so a plain parallel sum could differ in its last bits between reruns
        sum((students * value)::decimal(38, 12))::double / sum(students) as county_value
    from v
    group by all
),

deviation as (
    select
        year, province_code, county_code, level, method, indicator,
        sum((v.students * (v.value - c.county_value) ^ 2)::decimal(38, 12))::double as weighted_squared_deviation
    from v
    join county c using (year, province_code, county_code, level, method, indicator)
    group by all
)

select
    c.year, c.province_code, c.county_code, c.level, c.method, c.indicator,
    n.province, n.county_name, c.students, c.units, c.county_value,
    case
        when c.county_value = 0 then null
        when c.units = 1 then 0.0
        else sqrt(d.weighted_squared_deviation / c.students) / c.county_value
    end as cv,
    case when c.county_value = 0 then 'county_value_zero' end as cv_undefined_reason
from county c
join deviation d using (year, province_code, county_code, level, method, indicator)
join (
    select county_code, min(province) as province, min(county_name) as county_name
    from school_units where year = getvariable('run_year') group by county_code
) n using (county_code)
