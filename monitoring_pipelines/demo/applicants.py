"""Synthetic loan applicants and their default risk: the one generator behind training and
production rows, so clean production hours share the training distribution exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd

NUMERICAL = (
    "age",
    "annual_income",
    "loan_amount",
    "loan_term_months",
    "credit_score",
    "debt_to_income",
    "num_open_accounts",
    "years_employed",
    "credit_utilization",
    "num_late_payments",
)
CATEGORICAL = ("home_ownership", "loan_purpose", "employment_type", "region")
FEATURES = NUMERICAL + CATEGORICAL

CATEGORIES: dict[str, dict[str, float]] = {
    "home_ownership": {"RENT": 0.40, "MORTGAGE": 0.42, "OWN": 0.15, "OTHER": 0.03},
    "loan_purpose": {
        "debt_consolidation": 0.45,
        "credit_card": 0.20,
        "home_improvement": 0.12,
        "car": 0.10,
        "medical": 0.05,
        "small_business": 0.05,
        "education": 0.03,
    },
    "employment_type": {
        "full_time": 0.70,
        "part_time": 0.10,
        "self_employed": 0.12,
        "retired": 0.05,
        "unemployed": 0.03,
    },
    "region": {"northeast": 0.18, "midwest": 0.21, "south": 0.38, "west": 0.23},
}
YEARS_EMPLOYED_MISSING = 0.05

# Log-odds added to the default risk; "crypto" only appears once production drifts.
PURPOSE_RISK = {"small_business": 0.6, "medical": 0.3, "education": 0.2, "crypto": 1.2}
EMPLOYMENT_RISK = {"unemployed": 0.9, "self_employed": 0.3, "part_time": 0.2, "retired": -0.1}
HOME_RISK = {"OWN": -0.25, "MORTGAGE": -0.1, "OTHER": 0.2}


def _choice(rng: np.random.Generator, name: str, n: int) -> np.ndarray:
    values, weights = zip(*CATEGORIES[name].items(), strict=True)
    return rng.choice(np.array(values, dtype=object), size=n, p=weights)


def sample_applicants(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """``n`` applicants with realistic marginal shapes and a few plausible correlations."""
    late = rng.negative_binomial(1, 0.7, n)
    income = np.round(rng.lognormal(np.log(55_000), 0.55, n), -2)
    years = np.round(np.clip(rng.gamma(2.0, 3.5, n), 0, 45), 1)
    years[rng.random(n) < YEARS_EMPLOYED_MISSING] = np.nan
    loan = np.round(np.clip(income * rng.lognormal(np.log(0.22), 0.45, n), 1_000, 100_000), -1)
    return pd.DataFrame(
        {
            "age": np.clip(np.round(rng.normal(41, 12, n)), 18, 80).astype(np.int64),
            "annual_income": income,
            "loan_amount": loan,
            "loan_term_months": rng.choice([12, 24, 36, 60], n, p=[0.1, 0.2, 0.45, 0.25]),
            "credit_score": np.clip(np.round(rng.normal(705 - 25 * late, 60)), 300, 850).astype(
                np.int64
            ),
            "debt_to_income": np.round(rng.beta(2.0, 5.0, n) * 0.8, 4),
            "num_open_accounts": rng.poisson(6.0, n),
            "years_employed": years,
            "credit_utilization": np.round(rng.beta(2.0, 5.0, n), 4),
            "num_late_payments": late,
            "home_ownership": _choice(rng, "home_ownership", n),
            "loan_purpose": _choice(rng, "loan_purpose", n),
            "employment_type": _choice(rng, "employment_type", n),
            "region": _choice(rng, "region", n),
        }
    ).astype({name: "str" for name in CATEGORICAL})


def default_probability(frame: pd.DataFrame) -> np.ndarray:
    """The true probability of default: a logistic model of the applicant's features."""
    years = frame["years_employed"].to_numpy(dtype=np.float64, na_value=np.nan)
    logit = (
        -1.6
        - 0.012 * (frame["credit_score"] - 690)
        + 3.0 * (frame["debt_to_income"] - 0.23)
        + 1.8 * (frame["credit_utilization"] - 0.29)
        + 0.35 * frame["num_late_payments"]
        - 0.5 * np.log(frame["annual_income"] / 55_000)
        + 0.4 * np.log(frame["loan_amount"] / 12_000)
        + 0.012 * (frame["loan_term_months"] - 36)
        - 0.03 * np.where(np.isnan(years), 0.0, years - 7)
        + 0.3 * np.isnan(years)
        + frame["loan_purpose"].map(PURPOSE_RISK).fillna(0.0)
        + frame["employment_type"].map(EMPLOYMENT_RISK).fillna(0.0)
        + frame["home_ownership"].map(HOME_RISK).fillna(0.0)
    )
    return 1.0 / (1.0 + np.exp(-logit.to_numpy(dtype=np.float64)))


def sample_defaults(
    rng: np.random.Generator, frame: pd.DataFrame, concept_drift: np.ndarray | None = None
) -> np.ndarray:
    """Draw the 0/1 outcome of each applicant from :func:`default_probability`, or for the
    ``concept_drift`` rows from :func:`drifted_probability` (the same draws either way)."""
    probability = default_probability(frame)
    if concept_drift is not None:
        probability = np.where(concept_drift, drifted_probability(frame), probability)
    return (rng.random(len(frame)) < probability).astype(np.int64)


# Concept drift: after the onset, applicants in the south and west default more often, and
# more so with many open accounts (a regional downturn the features do not show).
CONCEPT_SHIFT = 1.0
SHIFTED_REGIONS = ("south", "west")


def drifted_probability(frame: pd.DataFrame) -> np.ndarray:
    """The probability of default once the relationship between inputs and outcome changed."""
    p = default_probability(frame)
    shift = CONCEPT_SHIFT * (
        frame["region"].isin(SHIFTED_REGIONS).to_numpy(dtype=float)
        + 0.04 * (frame["num_open_accounts"].to_numpy(dtype=float) - 6)
    )
    return 1.0 / (1.0 + np.exp(-(np.log(p / (1 - p)) + shift)))


def inject_drift(rng: np.random.Generator, frame: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """Drift the selected rows: income +35%, 15% "crypto" loans, years_employed 30% missing."""
    frame = frame.copy()
    n = int(rows.sum())
    frame.loc[rows, "annual_income"] = np.round(frame.loc[rows, "annual_income"] * 1.35, -2)
    crypto = rows.copy()
    crypto[rows] = rng.random(n) < 0.15
    frame.loc[crypto, "loan_purpose"] = "crypto"
    # Top the 5% baseline missing rate up to 30%: blank 25/95 of the still-present values.
    blank = rows.copy()
    blank[rows] = rng.random(n) < (0.30 - YEARS_EMPLOYED_MISSING) / (1 - YEARS_EMPLOYED_MISSING)
    frame.loc[blank, "years_employed"] = np.nan
    return frame


DRIFTED_COLUMNS = ("annual_income", "loan_purpose", "years_employed")

REGIONAL_REGION = "northeast"  # 18 % of the traffic
REGIONAL_FACTOR = 1.2


def inject_regional_drift(frame: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """Raise annual_income by 20 % in the selected rows of the northeast only (no random draw,
    so every other draw of the demo is unchanged): the segment ``region=northeast`` drifts
    while the population, of which 18 % moved, stays under its thresholds."""
    frame = frame.copy()
    chosen = rows & (frame["region"] == REGIONAL_REGION).to_numpy()
    frame.loc[chosen, "annual_income"] = np.round(
        frame.loc[chosen, "annual_income"] * REGIONAL_FACTOR, -2
    )
    return frame


DECORRELATED_COLUMN = "loan_amount"  # follows annual_income (correlation ≈ 0.74) until shuffled


def decorrelate(rng: np.random.Generator, frame: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """Shuffle ``loan_amount`` among the selected rows (one hour's): every column keeps exactly
    the values it had, so no column's distribution moves; only loan_amount's link to
    annual_income is gone, which multivariate drift sees and per-column metrics cannot."""
    frame = frame.copy()
    values = frame[DECORRELATED_COLUMN].to_numpy(copy=True)
    values[rows] = rng.permutation(values[rows])
    frame[DECORRELATED_COLUMN] = values
    return frame
