"""Drills through the team's own Alertmanager: alerts posted there come back labelled."""
