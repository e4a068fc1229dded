-- Schools left out of the seven indicators, or folded into another unit, and why.
-- Lets a statistician see that every staged school was either assessed or set aside by a rule.
with schools as (
    select s.year, s.province_code, s.county_code, s.county_name, s.school_id, s.school_name,
           s.school_type, s.ownership, s.primary_students, s.parent_school_id, p.*  exclude (province_code)
    from stg_schools s
    join policy_province p on p.province_code = s.province_code
    where s.year = getvariable('run_year')
)
select year, province_code, county_code, county_name, school_id, school_name, school_type,
       reason, reason_zh
from (
    select *, 'special_education' as reason, '特殊教育学校不参与七项资源配置指标' as reason_zh
    from schools where school_type = '{{ special_education }}' and not include_special_education
    union all
    select *, 'private_excluded', '按设置，民办学校不参与评估'
    from schools where ownership = '{{ private_ownership }}' and not include_private
    union all
    select *, 'teaching_point_below_cut',
           '教学点在校生不足 ' || teaching_point_min_students || ' 人，不单独作为评估单元'
    from schools where school_type = '{{ teaching_point }}' and primary_students < teaching_point_min_students
    union all
    select s.*, 'merged_into_parent', '教学点并入所属学校 ' || s.parent_school_id || ' 计算'
    from schools s
    where s.school_type = '{{ teaching_point }}' and s.merge_teaching_points_into_parent
      and s.primary_students >= s.teaching_point_min_students
      and s.school_id not in (select school_id from school_units where year = getvariable('run_year'))
)
