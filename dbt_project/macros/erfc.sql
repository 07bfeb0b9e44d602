{#
    Complementary error function erfc(x) = 1 - erf(x) as a double, by the Abramowitz-Stegun
    approximation 7.1.26 (|error of erf| < 1.5e-7 for x >= 0):
        t = 1 / (1 + p |x|),  erfc(|x|) = (a1 t + a2 t^2 + a3 t^3 + a4 t^4 + a5 t^5) exp(-x^2)
    with p = 0.3275911, a1..a5 = 0.254829592, -0.284496736, 1.421413741, -1.453152027,
    1.061405429; erfc(-x) = 2 - erfc(x). Neither DuckDB nor Spark SQL has erf, hence the macro.
    Two-sided normal p-value of a z-score: erfc(|z| / sqrt(2)). Computing erfc directly (not
    1 - erf) keeps small p-values accurate to the approximation's absolute error.
    `x` is inlined several times: pass a column name or a cheap expression.
#}

{% macro erfc(x) -%}
    {{ return(adapter.dispatch('erfc')(x)) }}
{%- endmacro %}

{% macro default__erfc(x) -%}
    {%- set ax = "abs(cast(" ~ x ~ " as double))" -%}
    {%- set t = "(1.0 / (1.0 + 0.3275911 * " ~ ax ~ "))" -%}
    (case
        when {{ x }} is null then null
        else
            (
                {{ t }} * (0.254829592 + {{ t }} * (-0.284496736 + {{ t }} * (1.421413741
                + {{ t }} * (-1.453152027 + {{ t }} * 1.061405429))))
            ) * exp(-({{ ax }} * {{ ax }}))
            * (case when {{ x }} < 0 then -1.0 else 1.0 end)
            + (case when {{ x }} < 0 then 2.0 else 0.0 end)
    end)
{%- endmacro %}
