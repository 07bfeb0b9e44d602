{#
    Age band of a customer from the birth year and a reference date: age = calendar year of
    the reference date - birth year (the birthday itself is not known). Bands: under_18,
    18_24, 25_34, 35_44, 45_54, 55_plus; unknown when the birth year is NULL.
#}

{% macro age_band(birth_year, reference_date) -%}
    {{ return(adapter.dispatch('age_band')(birth_year, reference_date)) }}
{%- endmacro %}

{% macro default__age_band(birth_year, reference_date) -%}
    case
        when {{ birth_year }} is null then 'unknown'
        when extract(year from {{ reference_date }}) - {{ birth_year }} < 18 then 'under_18'
        when extract(year from {{ reference_date }}) - {{ birth_year }} < 25 then '18_24'
        when extract(year from {{ reference_date }}) - {{ birth_year }} < 35 then '25_34'
        when extract(year from {{ reference_date }}) - {{ birth_year }} < 45 then '35_44'
        when extract(year from {{ reference_date }}) - {{ birth_year }} < 55 then '45_54'
        else '55_plus'
    end
{%- endmacro %}
