"""Tables in the column-batch convention (column name -> 1-D array): how good a synthetic table is.

    inputs       the convention checked: two tables with the same columns, a kind for each; kinds from the dtypes
    quality      SDMetrics' quality score: column shapes (KS, TVD) and column-pair trends (correlation, contingency)
    linear       the classifiers and regressions of the other scores: ridge, logistic (Newton), softmax regression
    detection    can a logistic regression tell real rows from synthetic ones? Cross-validated ROC AUC
    efficacy     train on synthetic, test on real (TSTR): a model's score beside the same model trained on real rows
    dcr          privacy: each synthetic row's distance to the closest real training row, beside held-out rows'
    scores       every score of a synthetic table in one JSON-able dict, and its markdown page
    report       the folder of a quality report: report.md, scores.json and the figures
"""
