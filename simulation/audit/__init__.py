"""The empirical privacy audit (`fedpersona audit`): canary attacks on the real round code,
turned into lower bounds on epsilon, and the attacks that found earlier privacy holes."""
