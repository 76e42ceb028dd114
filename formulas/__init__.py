"""Formulas: deterministic JavaScript, evaluated in a QuickJS sandbox, for computed fields,
validations and computed defaults. Depends on nothing else in Kobold."""

from formulas.compile import CompiledFormula, FormulaForm, Purpose, ResultType, compile_formula
from formulas.errors import FormulaError, FormulaSyntaxError
from formulas.limits import Limits
from formulas.runtime import FormulaRuntime

__all__ = [
    "CompiledFormula",
    "FormulaError",
    "FormulaForm",
    "FormulaRuntime",
    "FormulaSyntaxError",
    "Limits",
    "Purpose",
    "ResultType",
    "compile_formula",
]
